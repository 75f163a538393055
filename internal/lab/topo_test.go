package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// staticRoutes is a RouteSource the test sets by hand (the fake GCE is
// covered by the lab scenarios).
type staticRoutes struct {
	mu     sync.Mutex
	routes []FabricRoute
	subs   []chan struct{}
}

func (s *staticRoutes) EffectiveRoutes() []FabricRoute {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]FabricRoute(nil), s.routes...)
}

func (s *staticRoutes) Subscribe() (<-chan struct{}, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{}, 1)
	s.subs = append(s.subs, ch)
	return ch, func() {}
}

func (s *staticRoutes) set(routes []FabricRoute) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = routes
	for _, ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds network namespaces (full tier)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces")
	}
}

// forwardByHand does what the agent does on a forwarder, minimally, so the
// topology can be tested without it.
func forwardByHand(t *testing.T, topo Topology, k int) {
	t.Helper()
	ns := topo.Forwarder(k)
	for _, kv := range [][2]string{{"net.ipv4.ip_forward", "1"}, {"net.ipv4.conf.all.rp_filter", "0"}} {
		if err := sysctl(ns, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := ip("-n", ns, "route", "add", VPCBRange, "via", nic1Gateway, "dev", "nic1"); err != nil {
		t.Fatal(err)
	}
}

func TestTopologyCarriesAndMeasuresTraffic(t *testing.T) {
	needRoot(t)
	topo := Topology{Prefix: RunPrefix(os.Getpid())}
	if err := topo.Build(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.Teardown(); err != nil {
			t.Error(err)
		}
		names, _ := namespaces()
		for _, n := range names {
			if strings.HasPrefix(n, topo.Prefix) {
				t.Errorf("namespace %s left after teardown", n)
			}
		}
	})

	src := &staticRoutes{}
	for k := 0; k < 2; k++ {
		nic0 := NIC{MAC: fmt.Sprintf("42:01:0a:00:01:%02x", 10+k), IP: fmt.Sprintf("10.0.1.%d", 10+k), Mask: "255.255.255.0", Gateway: nic0Gateway}
		nic1 := NIC{MAC: fmt.Sprintf("42:01:0a:13:11:%02x", 10+k), IP: fmt.Sprintf("10.19.17.%d", 10+k), Mask: "255.255.255.0", Gateway: nic1Gateway}
		if err := topo.AddForwarder(k, nic0, nic1); err != nil {
			t.Fatal(err)
		}
		forwardByHand(t, topo, k)
	}
	// The health checkers' path: from mgmt to a forwarder's nic0 and back,
	// as the fake's autohealing probes go.
	var hcListener net.Listener
	if err := InNamespace(topo.Forwarder(1), func() (err error) {
		hcListener, err = net.Listen("tcp4", "10.0.1.11:9780")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		if c, err := hcListener.Accept(); err == nil {
			_, _ = c.Write([]byte("ok"))
			_ = c.Close()
		}
	}()
	if err := InNamespace(topo.Mgmt(), func() error {
		c, err := net.DialTimeout("tcp4", "10.0.1.11:9780", 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		if got := c.LocalAddr().(*net.TCPAddr).IP.String(); got != HealthCheckerIP {
			return fmt.Errorf("health check from %s, want %s", got, HealthCheckerIP)
		}
		_, err = io.ReadAll(c)
		return err
	}); err != nil {
		t.Errorf("mgmt to nic0 10.0.1.11:9780 (the health checkers' path): %v", err)
	}
	_ = hcListener.Close()
	mac, err := ipOut("-n", topo.Forwarder(1), "-br", "link", "show", "nic1")
	if err != nil || !strings.Contains(mac, "42:01:0a:13:11:0b") {
		t.Fatalf("forwarder 1 nic1 = %q (%v), want MAC 42:01:0a:13:11:0b", mac, err)
	}

	fab, err := NewFabric(topo, src, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer fab.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = fab.Run(ctx) }()

	var routes []FabricRoute
	for k := 0; k < 2; k++ {
		routes = append(routes,
			FabricRoute{Network: NetworkA, DestRange: VPCBRange, Priority: 900, NextHop: fmt.Sprintf("10.0.1.%d", 10+k), Instance: fmt.Sprint("fwd-", k)},
			FabricRoute{Network: NetworkB, DestRange: VPCARange, Priority: 900, NextHop: fmt.Sprintf("10.19.17.%d", 10+k), Instance: fmt.Sprint("fwd-", k)},
		)
	}
	// A worse route must lose to the two equal-priority ones.
	routes = append(routes, FabricRoute{Network: NetworkA, DestRange: VPCBRange, Priority: 1000, NextHop: "10.0.1.99", Instance: "worse"})
	src.set(routes)
	waitFor(t, 3*time.Second, func() bool { return len(fab.NextHops(NetworkA, VPCBRange)) == 2 })
	table, _ := ipOut("-n", topo.VPCA(), "route", "show", VPCBRange)
	if !strings.Contains(table, "nexthop via 10.0.1.10") || !strings.Contains(table, "nexthop via 10.0.1.11") || strings.Contains(table, "10.0.1.99") {
		t.Fatalf("vpc-a route for %s:\n%s\nwant multipath via 10.0.1.10 and 10.0.1.11 only", VPCBRange, table)
	}

	load, err := StartLoad(topo, 8)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if m := load.Snapshot(); m.UDP.Lost != 0 || m.UDP.Received < 150 {
		t.Fatalf("steady state: lost %d of %d (received %d), want none lost", m.UDP.Lost, m.UDP.Sent, m.UDP.Received)
	}

	// A one-second freeze of both forwarders must show as loss and a gap of
	// about a second, and every TCP flow must come back.
	for k := 0; k < 2; k++ {
		if err := ip("-n", topo.Forwarder(k), "rule", "add", "prio", "1", "blackhole"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	for k := 0; k < 2; k++ {
		if err := ip("-n", topo.Forwarder(k), "rule", "del", "prio", "1"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second)
	m := load.Stop()
	if m.UDP.Lost < 150 || m.UDP.LongestGap < 800*time.Millisecond || m.UDP.LongestGap > 1500*time.Millisecond {
		t.Errorf("after a 1 s freeze: lost %d, longest gap %v; want ~250 lost and a ~1 s gap", m.UDP.Lost, m.UDP.LongestGap)
	}
	stall, resumed := m.WorstStall()
	if !resumed || stall < 800*time.Millisecond {
		t.Errorf("TCP: worst stall %v, all resumed %v; want ≥0.8 s and all resumed (%+v)", stall, resumed, m.TCP)
	}
	t.Logf("udp sent %d lost %d gap %v; tcp worst stall %v", m.UDP.Sent, m.UDP.Lost, m.UDP.LongestGap, stall)

	// With no effective route left the fabric has no route: unreachable.
	src.set(nil)
	waitFor(t, 3*time.Second, func() bool { return len(fab.NextHops(NetworkA, VPCBRange)) == 0 })
	if out, _ := ipOut("-n", topo.VPCA(), "route", "show", VPCBRange); strings.TrimSpace(out) != "" {
		t.Errorf("vpc-a still routes %s after the last route went: %q", VPCBRange, out)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCleanupRemovesOnlyDeadRuns(t *testing.T) {
	needRoot(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadNS := RunPrefix(dead.Process.Pid) + "client"
	liveNS := RunPrefix(os.Getpid()) + "cleanup-probe"
	for _, ns := range []string{deadNS, liveNS} {
		if err := ip("netns", "add", ns); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { _ = ip("netns", "delete", liveNS); _ = ip("netns", "delete", deadNS) }()
	removed, err := Cleanup()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, deadNS) || slices.Contains(removed, liveNS) {
		t.Errorf("cleanup removed %v; want %s and not %s", removed, deadNS, liveNS)
	}
	names, _ := namespaces()
	if slices.Contains(names, deadNS) || !slices.Contains(names, liveNS) {
		t.Errorf("namespaces after cleanup: %v", names)
	}
}
