package gcefake

import (
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// A route is programmed a propagation delay after its insert is DONE and
// unprogrammed a propagation delay after its delete is DONE; the API shows
// the operation's state, the data plane (EffectiveRoutes, EffectiveLog) the
// propagated one.
func TestPropagationDelaysTheDataPlane(t *testing.T) {
	t.Parallel()
	const prop = 200 * time.Millisecond
	s, ts := newFake(t, Options{Propagation: Fixed(prop)})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)

	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.16.0/20")})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r1"}); err != nil {
		t.Errorf("get after DONE: %v", err)
	}
	if n := len(s.EffectiveRoutes()); n != 0 {
		t.Errorf("%d effective routes right after DONE, want 0 until propagated", n)
	}
	eventually(t, "r1 effective", func() bool { return len(s.EffectiveRoutes()) == 1 })

	del, err := c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := del.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r1"}); apiErr(t, err).Code != 404 {
		t.Errorf("get after delete DONE: %v, want 404", err)
	}
	if n := len(s.EffectiveRoutes()); n != 1 {
		t.Errorf("%d effective routes right after delete DONE, want 1 until propagated", n)
	}
	eventually(t, "r1 no longer effective", func() bool { return len(s.EffectiveRoutes()) == 0 })

	ops := s.OperationLog()
	eventually(t, "two effective changes", func() bool { return len(s.EffectiveLog()) == 2 })
	eff := s.EffectiveLog()
	if eff[0].Route != "r1" || !eff[0].Effective || eff[1].Route != "r1" || eff[1].Effective {
		t.Fatalf("effective log %+v, want r1 on then off", eff)
	}
	for i, what := range []string{"insert", "delete"} {
		lag := eff[i].At.Sub(ops[i].Done)
		if lag < prop || lag > prop+500*time.Millisecond {
			t.Errorf("%s: effective change %v after DONE, want %v (+ scheduling)", what, lag, prop)
		}
	}
}

// With a drawn propagation, a route deleted before it was ever programmed
// never carries traffic.
func TestRouteDeletedBeforePropagationNeverCarries(t *testing.T) {
	t.Parallel()
	s, ts := newFake(t, Options{Propagation: Fixed(300 * time.Millisecond)})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	if _, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.16.0/20")}); err != nil {
		t.Fatal(err)
	}
	s.SetPropagation(Latency{})
	if _, err := c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r1"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if n := len(s.EffectiveRoutes()); n != 0 {
		t.Errorf("%d effective routes, want 0", n)
	}
	if log := s.EffectiveLog(); len(log) != 0 {
		t.Errorf("effective log %+v, want empty", log)
	}
}
