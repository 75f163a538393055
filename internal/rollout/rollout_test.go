package rollout

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

const (
	project = "p"
	zone    = "us-central1-a"
	prefix  = "vpclink"
)

// announcer plays the agents' part that rollout depends on: when an
// instance starts it announces one owned route for it, through the real
// client; on stop it withdraws them. (The real agent runs in the lab.)
type announcer struct {
	routes gce.Routes
	t      *testing.T
	// ctx ends when the test does, so that a boot still announcing does
	// not outlive the clients it uses.
	ctx context.Context
}

func routeFor(inst gcefake.Instance, dest string) gce.Route {
	return gce.Route{
		Name:            naming.RouteName(prefix, instanceid.ID(inst.ID), project, "vpc-a", dest),
		Project:         project,
		Network:         "vpc-a",
		DestRange:       dest,
		Priority:        900,
		NextHopInstance: gce.Identity{Project: project, Zone: inst.Zone, Name: inst.Name}.InstanceURL(),
		Description:     naming.Marker{Instance: inst.Name, Zone: inst.Zone, Group: inst.Group, Agent: "test"}.Description(),
	}
}

func (a *announcer) Started(inst gcefake.Instance) {
	if err := a.routes.Insert(a.ctx, routeFor(inst, "10.19.16.0/20")); err != nil && a.ctx.Err() == nil {
		a.t.Errorf("announce %s: %v", inst.Name, err)
	}
}

func (a *announcer) Stopping(ctx context.Context, inst gcefake.Instance) {
	_ = a.routes.Delete(ctx, project, routeFor(inst, "10.19.16.0/20").Name)
}

func setup(t *testing.T) (*gcefake.Server, *gce.Clients, *announcer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ann := &announcer{t: t, ctx: ctx}
	fake := gcefake.New(gcefake.Options{OpLatency: gcefake.Fixed(50 * time.Millisecond), BootDelay: 50 * time.Millisecond, Lifecycle: ann})
	srv := httptest.NewServer(fake)
	clients, err := gce.NewClients(context.Background(), gce.ClientOptions{Endpoint: srv.URL + "/", OpPoll: 20 * time.Millisecond})
	if err != nil {
		cancel()
		srv.Close()
		fake.Close()
		t.Fatal(err)
	}
	ann.routes = clients.Routes
	// In this order: the lifecycle hooks use the clients, which use the
	// server; fake.Close waits for the hooks.
	t.Cleanup(func() {
		cancel()
		fake.Close()
		srv.Close()
		_ = clients.Close()
	})
	return fake, clients, ann
}

func TestDrainDeletesOnlyTheInstancesOwnedRoutes(t *testing.T) {
	fake, clients, _ := setup(t)
	ctx := context.Background()
	nics := []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}
	a, err := fake.CreateInstance(gcefake.InstanceSpec{Project: project, Zone: zone, Name: "fwd-a", NICs: nics})
	if err != nil {
		t.Fatal(err)
	}
	b, err := fake.CreateInstance(gcefake.InstanceSpec{Project: project, Zone: zone, Name: "fwd-b", NICs: nics})
	if err != nil {
		t.Fatal(err)
	}
	foreign := routeFor(a, "10.20.0.0/16")
	foreign.Description = "made by hand, same name shape" // not ours: no marker
	for _, r := range []gce.Route{routeFor(a, "10.19.16.0/20"), routeFor(a, "10.21.0.0/16"), routeFor(b, "10.19.16.0/20"), foreign} {
		if err := clients.Routes.Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	ops := &Ops{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups, Out: &out, Poll: 20 * time.Millisecond}
	began := time.Now()
	n, err := ops.Drain(ctx, project, zone, "fwd-a", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("drained %d routes, want 2", n)
	}
	if d := time.Since(began); d < 300*time.Millisecond {
		t.Errorf("drain returned after %v, before its grace", d)
	}
	left, err := clients.Routes.List(ctx, project, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range left {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	want := []string{routeFor(a, "10.20.0.0/16").Name, routeFor(b, "10.19.16.0/20").Name}
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("routes left %v, want the foreign one and fwd-b's: %v", names, want)
	}
	for _, line := range []string{"withdrawing 2 routes", "no routes left; grace 300ms", "drained"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("progress lacks %q:\n%s", line, out.String())
		}
	}
	// Draining again is a no-op, not an error.
	if n, err := ops.Drain(ctx, project, zone, "fwd-a", 0); err != nil || n != 0 {
		t.Errorf("second drain: %d routes, %v; want 0, nil", n, err)
	}
}
