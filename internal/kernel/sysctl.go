package kernel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

const procSys = "/proc/sys"

// sysctlFile returns the file for a path under /proc/sys, refusing paths
// that would leave it.
func sysctlFile(path string) (string, error) {
	clean := filepath.Clean("/" + path)
	if clean == "/" || strings.Contains(path, "..") {
		return "", fmt.Errorf("sysctl %q: not a path under %s", path, procSys)
	}
	return procSys + clean, nil
}

func (k *netlinkKernel) ReadSysctls(paths []string) (map[string]string, error) {
	values := make(map[string]string, len(paths))
	var errs []error
	err := inNamespace(k.ns, func() {
		for _, p := range paths {
			file, err := sysctlFile(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			b, err := os.ReadFile(file)
			if err != nil {
				errs = append(errs, fmt.Errorf("sysctl %s: read: %w", p, err))
				continue
			}
			values[p] = strings.TrimSpace(string(b))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read sysctls: %w", err)
	}
	return values, errors.Join(errs...)
}

func (k *netlinkKernel) WriteSysctl(path, value string) error {
	file, err := sysctlFile(path)
	if err != nil {
		return err
	}
	var werr error
	if err := inNamespace(k.ns, func() {
		// O_WRONLY without O_CREATE: a missing device is an error, not a new file.
		f, err := os.OpenFile(file, os.O_WRONLY, 0)
		if err != nil {
			werr = err
			return
		}
		_, werr = f.WriteString(value + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
	}); err != nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("sysctl %s=%s: write: %w", path, value, werr)
	}
	return nil
}

// inNamespace runs fn with /proc/sys/net showing namespace ns. For
// netns.None() that is the caller's namespace and fn runs right here.
// Otherwise fn runs on a new goroutine locked to its OS thread, which enters
// ns first and leaves it after; fn must not start goroutines that touch
// /proc/sys. If the thread cannot return to its namespace, the goroutine
// ends still locked and the Go runtime retires that thread.
func inNamespace(ns netns.NsHandle, fn func()) error {
	if !ns.IsOpen() {
		fn()
		return nil
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer home.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter namespace %v: %w", ns, err)
			return
		}
		fn()
		if err := netns.Set(home); err != nil {
			done <- fmt.Errorf("return to namespace %v: %w", home, err) // thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	return <-done
}
