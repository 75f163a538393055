package lab

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// TestCloudRouterSessions runs a Cloud Router against a real appliance
// guest in namespaces, with a 300 ms keepalive (hold 900 ms): a session
// brings the route in, a frozen appliance loses it when the hold time runs
// out (not before), and a clean stop loses it at once.
func TestCloudRouterSessions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces")
	}
	if testing.Short() {
		t.Skip("namespace test: the full tier runs it")
	}
	prefix := fmt.Sprintf("vlt-%d-", os.Getpid())
	topo := Topology{Prefix: prefix}
	t.Cleanup(func() { _ = topo.Teardown() })
	router, app := prefix+"vpc-a", prefix+"app"
	for _, s := range [][]string{
		{"netns", "add", router}, {"netns", "add", app},
		{"-n", router, "link", "add", "fwd", "type", "bridge"},
		{"-n", router, "addr", "add", "10.0.1.1/24", "dev", "fwd"},
		{"-n", router, "link", "set", "fwd", "up"},
		{"-n", app, "link", "set", "lo", "up"},
		{"-n", app, "link", "add", "nic0", "type", "veth", "peer", "name", "a0", "netns", router},
		{"-n", router, "link", "set", "a0", "master", "fwd", "up"},
		{"-n", app, "addr", "add", "10.0.1.2/24", "dev", "nic0"},
		{"-n", app, "link", "set", "nic0", "up"},
		{"-n", app, "link", "add", "nic1", "type", "veth", "peer", "name", "a1", "netns", router},
		{"-n", router, "link", "set", "a1", "up"},
		{"-n", app, "addr", "add", "10.19.17.2/24", "dev", "nic1"},
		{"-n", app, "link", "set", "nic1", "up"},
	} {
		if err := ip(s...); err != nil {
			t.Fatal(err)
		}
	}
	inst := gcefake.Instance{Name: "fwd-a", ID: 7, Status: gcefake.StatusRunning, NICs: []gcefake.InstanceNIC{
		{Network: NetworkA, IP: "10.0.1.2", Gateway: "10.0.1.1", Subnetmask: "255.255.255.0"},
		{Network: NetworkB, IP: "10.19.17.2", Gateway: "10.19.17.1", Subnetmask: "255.255.255.0"},
	}}
	g, err := startNCCGuest(app, inst, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Kill()
	if out, err := ipOut("-n", app, "route", "show", VPCBRange); err != nil || out == "" {
		t.Fatalf("appliance has no learned route to %s: %q %v", VPCBRange, out, err)
	}

	c := NewCloudRouter(Topology{Prefix: prefix}, func() []gcefake.Instance { return []gcefake.Instance{inst} }, gcefake.Latency{}, zap.NewNop())
	c.keepalive = 300 * time.Millisecond
	c.nets = c.nets[:1] // VPC A only
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	learned := func() bool {
		rs := c.EffectiveRoutes()
		return len(rs) == 1 && rs[0].NextHop == "10.0.1.2" && rs[0].Instance == "fwd-a#7" && rs[0].DestRange == VPCBRange
	}
	waitFor := func(what string, d time.Duration, cond func() bool) time.Duration {
		t.Helper()
		began := time.Now()
		if err := waitUntil(ctx, d, what, cond); err != nil {
			t.Fatal(err)
		}
		return time.Since(began)
	}
	feed, unsub := c.Subscribe()
	defer unsub()
	waitFor("session up", 5*time.Second, learned)
	select {
	case <-feed:
	case <-time.After(time.Second):
		t.Error("no change signalled for the learned route")
	}

	// Frozen: nothing leaves the appliance any more.
	time.Sleep(200 * time.Millisecond)
	if err := ip("-n", app, "rule", "add", "prio", "1", "blackhole"); err != nil {
		t.Fatal(err)
	}
	lost := waitFor("hold timer", 3*time.Second, func() bool { return !learned() })
	if lost < 500*time.Millisecond {
		t.Errorf("route of a frozen appliance gone after %s, before the hold time (900 ms) less a keepalive could run out", lost)
	}
	if err := ip("-n", app, "rule", "del", "prio", "1", "blackhole"); err != nil {
		t.Fatal(err)
	}
	waitFor("session back", 5*time.Second, learned)

	// Clean stop: withdrawn at once.
	go g.Shutdown(ctx)
	if gone := waitFor("withdraw", 3*time.Second, func() bool { return !learned() }); gone > 400*time.Millisecond {
		t.Errorf("clean stop withdrew after %s, want at once", gone)
	}
}
