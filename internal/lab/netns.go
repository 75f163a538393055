package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// ip runs `ip args...` and returns its error with stderr, naming the command.
// The lab (never the agent or reconciler) may shell out: building and
// inspecting namespaces with the operator's own tool keeps the lab readable.
func ip(args ...string) error {
	_, err := ipOut(args...)
	return err
}

// ipOut runs `ip args...` and returns its stdout.
func ipOut(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// nsExec runs a command inside namespace ns, like `ip netns exec ns cmd...`.
func nsExec(ns string, cmd ...string) error {
	return ip(append([]string{"netns", "exec", ns}, cmd...)...)
}

// sysctl writes one sysctl inside namespace ns.
func sysctl(ns, key, value string) error {
	return nsExec(ns, "sysctl", "-q", "-w", key+"="+value)
}

// InNamespace runs fn on an OS thread switched into network namespace ns, so
// that sockets fn creates live there. The thread is switched back before it
// is released; sockets keep their namespace for life.
func InNamespace(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: current: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: open: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: enter: %w", ns, err)
	}
	fnErr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked to this goroutine, so no other goroutine
		// ever runs in the wrong namespace; this one must not go on.
		panic(fmt.Sprintf("netns %s: cannot switch back: %v", ns, err))
	}
	runtime.UnlockOSThread()
	return fnErr
}

// namespaces lists the names of all named network namespaces.
func namespaces() ([]string, error) {
	out, err := ipOut("netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// deleteNamespace kills every process left in ns and removes it. Deleting a
// namespace removes the veth ends inside it, and with them their peers.
func deleteNamespace(ns string) error {
	if out, err := ipOut("netns", "pids", ns); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	return ip("netns", "delete", ns)
}

// RunPrefix is the namespace prefix of the lab run with process id pid.
func RunPrefix(pid int) string { return fmt.Sprintf("vl-%d-", pid) }

// Cleanup removes namespaces left by lab runs whose process is gone (a crash,
// a kill -9). Namespaces of a live run are left alone. It returns what it
// removed.
func Cleanup() ([]string, error) {
	names, err := namespaces()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, n := range names {
		pid, ok := prefixPID(n)
		if !ok || processAlive(pid) {
			continue
		}
		if err := deleteNamespace(n); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n)
	}
	return removed, joinErrs(errs)
}

// prefixPID parses the run's pid out of a namespace name vl-<pid>-<role>.
func prefixPID(ns string) (int, bool) {
	rest, ok := strings.CutPrefix(ns, "vl-")
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}
