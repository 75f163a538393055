// Package kerneltest builds throwaway network namespaces for tests that need
// the real kernel. Tests drive namespaces with `ip -n NAME …` (allowed in
// tests, never in agent code) and hand the namespace handle to kernel.New,
// so the test process itself never leaves its own namespace.
package kerneltest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
)

// SkipUnlessRoot skips t when the process cannot create namespaces, and
// under -short: namespace tests belong to the full tier.
func SkipUnlessRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: creates network namespaces (full tier)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to set up namespaces")
	}
}

// NS is a named network namespace that exists until the test ends.
type NS struct {
	Name   string
	Handle netns.NsHandle
}

var (
	counter atomic.Int64
	swept   sync.Once
)

const prefix = "vpclinkdp-"

// sweepOrphans deletes namespaces this package created in test processes
// that no longer exist (killed before their cleanup ran). The creator's pid
// is in the name: vpclinkdp-<role>-<pid>-<n>.
func sweepOrphans() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		parts := strings.Split(strings.TrimPrefix(e.Name(), prefix), "-")
		if !strings.HasPrefix(e.Name(), prefix) || len(parts) < 3 {
			continue
		}
		pid, err := strconv.Atoi(parts[len(parts)-2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}

// NewNS creates a namespace named vpclinkdp-<role>-<pid>-<n>, with lo up,
// and deletes it (and the links inside) when the test ends. The first call
// in a process also deletes such namespaces left by dead test processes.
func NewNS(t testing.TB, role string) *NS {
	t.Helper()
	swept.Do(sweepOrphans)
	name := fmt.Sprintf("%s%s-%d-%d", prefix, role, os.Getpid(), counter.Add(1))
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	ns := &NS{Name: name, Handle: h}
	ns.IP(t, "link", "set", "lo", "up")
	return ns
}

// IP runs `ip -n NAME args…` and fails the test on error.
func (n *NS) IP(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"-n", n.Name}, args...)...)
}

// TryIP runs `ip -n NAME args…` and returns its error instead of failing.
func (n *NS) TryIP(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Sysctl sets a sysctl inside the namespace (`ip netns exec … sysctl -w`).
func (n *NS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	Run(t, "ip", "netns", "exec", n.Name, "sysctl", "-qw", key+"="+value)
}

// ReadSysctl reads a sysctl inside the namespace.
func (n *NS) ReadSysctl(t testing.TB, key string) string {
	t.Helper()
	return strings.TrimSpace(Run(t, "ip", "netns", "exec", n.Name, "sysctl", "-n", key))
}

// TrySysctl reads a sysctl inside the namespace, returning errors.
func (n *NS) TrySysctl(key string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", n.Name, "sysctl", "-n", key).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("sysctl %s in %s: %w: %s", key, n.Name, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Veth creates a veth pair with one end in a and the other in b, both up.
func Veth(t testing.TB, a *NS, aName string, b *NS, bName string) {
	t.Helper()
	a.IP(t, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.IP(t, "link", "set", aName, "up")
	b.IP(t, "link", "set", bName, "up")
}

// Run runs a command and fails the test with its output on error.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
