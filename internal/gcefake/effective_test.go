package gcefake

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// renderEffective renders effective routes one per line, for comparison.
func renderEffective(rs []EffectiveRoute) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s %s -> %s %s\n", r.Network, r.DestRange, r.Name, r.Instance, r.InstanceIP)
	}
	return b.String()
}

func TestEffectiveRoutesAndWarnings(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1") // nic0 10.0.1.2 on vpc-a, nic1 10.19.16.2 on vpc-b
	c := routesClient(t, ts)
	ctx := ctxT(t)
	insert := func(r *computepb.Route) {
		t.Helper()
		op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: r})
		if err != nil {
			t.Fatalf("insert %s: %v", r.GetName(), err)
		}
		if err := op.Wait(ctx); err != nil {
			t.Fatalf("insert %s: %v", r.GetName(), err)
		}
	}
	insert(testRoute("via-instance", "10.19.16.0/20"))
	insert(&computepb.Route{Name: proto.String("via-ip"), Network: proto.String("projects/proj-a/global/networks/vpc-b"),
		DestRange: proto.String("10.0.0.0/16"), NextHopIp: proto.String("10.19.16.2")})
	// fwd-1 has no NIC on vpc-c: GCE accepts the route but cannot use it.
	if err := s.DefineNetwork(proj, "vpc-c"); err != nil {
		t.Fatal(err)
	}
	noNIC := testRoute("no-nic", "10.50.0.0/16")
	noNIC.Network = proto.String("vpc-c")
	insert(noNIC)
	warning := func(name string) string {
		t.Helper()
		r, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: name})
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		if len(r.GetWarnings()) == 0 {
			return ""
		}
		return r.GetWarnings()[0].GetCode()
	}

	want := "vpc-a 10.19.16.0/20 via-instance -> fwd-1 10.0.1.2\nvpc-b 10.0.0.0/16 via-ip -> fwd-1 10.19.16.2\n"
	if got := renderEffective(s.EffectiveRoutes()); got != want {
		t.Errorf("effective:\n%s\nwant:\n%s", got, want)
	}
	// A panicked instance stays RUNNING: its routes stay in effect.
	if err := s.Panic(proj, zoneA, "fwd-1"); err != nil {
		t.Fatal(err)
	}
	if got := renderEffective(s.EffectiveRoutes()); got != want {
		t.Errorf("effective after panic:\n%s\nwant:\n%s", got, want)
	}
	if in, _ := s.Instance(proj, zoneA, "fwd-1"); !in.Panicked || in.Status != StatusRunning {
		t.Errorf("after Panic: %+v", in)
	}

	if err := s.SetStatus(proj, zoneA, "fwd-1", StatusTerminated); err != nil {
		t.Fatal(err)
	}
	if got := renderEffective(s.EffectiveRoutes()); got != "" {
		t.Errorf("effective with next hop TERMINATED and no grace:\n%s", got)
	}
	for _, name := range []string{"via-instance", "via-ip"} {
		if w := warning(name); w != "NEXT_HOP_NOT_RUNNING" {
			t.Errorf("%s warning %q, want NEXT_HOP_NOT_RUNNING", name, w)
		}
	}
	if err := s.DeleteInstance(proj, zoneA, "fwd-1"); err != nil {
		t.Fatal(err)
	}
	if w := warning("via-instance"); w != "NEXT_HOP_INSTANCE_NOT_FOUND" {
		t.Errorf("via-instance warning %q, want NEXT_HOP_INSTANCE_NOT_FOUND", w)
	}
	if w := warning("via-ip"); w != "NEXT_HOP_ADDRESS_NOT_ASSIGNED" {
		t.Errorf("via-ip warning %q, want NEXT_HOP_ADDRESS_NOT_ASSIGNED", w)
	}
	// Routes follow the name: a new instance fwd-1 takes them over.
	mustInstance(t, s, "fwd-1")
	if got := renderEffective(s.EffectiveRoutes()); got != want {
		t.Errorf("effective after re-create:\n%s\nwant:\n%s", got, want)
	}
}

func TestRouteGraceAfterNextHopStops(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	s, _ := newFake(t, Options{RouteGrace: grace})
	mustInstance(t, s, "fwd-1")
	seedRoutes(s, "vpclink", 1)
	changes, cancel := s.Subscribe()
	defer cancel()
	if n := len(s.EffectiveRoutes()); n != 1 {
		t.Fatalf("%d effective routes, want 1", n)
	}
	drain(changes)
	stopped := time.Now()
	if err := s.DeleteInstance(proj, zoneA, "fwd-1"); err != nil {
		t.Fatal(err)
	}
	got := s.EffectiveRoutes()
	if len(got) != 1 || got[0].InstanceIP != "10.0.1.2" {
		t.Errorf("effective right after the hop went: %+v, want the route via 10.0.1.2 in grace", got)
	}
	// Subscribers hear of the end of the grace without polling.
	deadline := time.After(3 * time.Second)
	for len(s.EffectiveRoutes()) != 0 {
		select {
		case <-changes:
		case <-deadline:
			t.Fatal("no change signal at the end of the grace")
		}
	}
	if d := time.Since(stopped); d < grace {
		t.Errorf("route left effect after %v, before the %v grace", d, grace)
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
