package gcefake

import (
	"math/rand/v2"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

func TestParseLatency(t *testing.T) {
	ok := map[string]Latency{
		"2s":          Fixed(2 * time.Second),
		"0":           {},
		"5s..20s":     {5 * time.Second, 20 * time.Second},
		" 1s .. 3s ":  {time.Second, 3 * time.Second},
		"1.5s..1.5s":  Fixed(1500 * time.Millisecond),
		"100ms..2.5s": {100 * time.Millisecond, 2500 * time.Millisecond},
	}
	for in, want := range ok {
		got, err := ParseLatency(in)
		if err != nil || got != want {
			t.Errorf("ParseLatency(%q) = %v, %v; want %v", in, got, err, want)
			continue
		}
		back, err := ParseLatency(got.String())
		if err != nil || back != got {
			t.Errorf("ParseLatency(%q.String() = %q) = %v, %v; want %v", in, got.String(), back, err, got)
		}
	}
	for _, in := range []string{"", "soon", "-1s", "5s..2s", "1s..", "..2s", "1s..2s..3s"} {
		if l, err := ParseLatency(in); err == nil {
			t.Errorf("ParseLatency(%q) = %v, want an error", in, l)
		}
	}
}

func TestLatencyDrawStaysInRangeAndSpreads(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := Latency{Min: 5 * time.Second, Max: 20 * time.Second}
	lo, hi := l.Max, l.Min
	for range 1000 {
		d := l.Draw(r)
		if d < l.Min || d > l.Max {
			t.Fatalf("draw %v outside %v", d, l)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	// 1,000 uniform draws leave less than 1 s uncovered at each end, except
	// with probability about 2·(14/15)^1000.
	if lo > 6*time.Second || hi < 19*time.Second {
		t.Errorf("1000 draws of %v spanned only %v..%v", l, lo, hi)
	}
	if d := Fixed(3 * time.Second).Draw(r); d != 3*time.Second {
		t.Errorf("fixed 3s drew %v", d)
	}
}

func TestOperationLatencyPerMethodAndLog(t *testing.T) {
	t.Parallel()
	s, ts := newFake(t, Options{})
	s.SetOpLatency("routes.delete", Fixed(150*time.Millisecond))
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)

	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.16.0/20")})
	if err != nil || op.Proto().GetStatus() != computepb.Operation_DONE {
		t.Fatalf("insert with the default (zero) latency: %v, %v; want DONE at once", op.Proto().GetStatus(), err)
	}
	del, err := c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r1"})
	if err != nil || del.Proto().GetStatus() == computepb.Operation_DONE {
		t.Fatalf("delete with its own 150ms latency: %v, %v; want not DONE yet", del.Proto().GetStatus(), err)
	}
	if err := del.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	log := s.OperationLog()
	if len(log) != 2 {
		t.Fatalf("operation log %+v, want 2 records", log)
	}
	ins, dl := log[0], log[1]
	if ins.Method != "routes.insert" || ins.Target != "r1" || ins.Latency > 50*time.Millisecond || ins.Done.IsZero() || ins.Name != op.Name() {
		t.Errorf("insert record %+v", ins)
	}
	if dl.Method != "routes.delete" || dl.Target != "r1" || dl.Latency < 150*time.Millisecond ||
		dl.Latency > time.Second || dl.Done.Sub(dl.Issued) != dl.Latency || dl.Error != "" {
		t.Errorf("delete record %+v, want latency 150ms..1s = Done-Issued", dl)
	}

	// Removing the override falls back to the default.
	s.SetOpLatency("routes.delete", Latency{})
	if _, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r2", "10.19.32.0/20")}); err != nil {
		t.Fatal(err)
	}
	del, err = c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r2"})
	if err != nil || del.Proto().GetStatus() != computepb.Operation_DONE {
		t.Errorf("delete after the override was removed: %v, %v; want DONE at once", del.Proto().GetStatus(), err)
	}
}

func TestOperationLatencyIsDrawnPerOperation(t *testing.T) {
	l := Latency{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	s, ts := newFake(t, Options{OpLatency: l})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	for i := range 8 {
		op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r"+itoa(i), "10.19."+itoa(16*i)+".0/20")})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := op.Wait(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	eventually(t, "all inserts DONE", func() bool {
		for _, r := range s.OperationLog() {
			if r.Done.IsZero() {
				return false
			}
		}
		return true
	})
	seen := map[time.Duration]bool{}
	for _, r := range s.OperationLog() {
		// A timer fires at or after its delay; 100 ms covers a busy machine.
		if r.Latency < l.Min || r.Latency > l.Max+100*time.Millisecond {
			t.Errorf("operation %s latency %v outside %v", r.Target, r.Latency, l)
		}
		seen[r.Latency.Truncate(time.Millisecond)] = true
	}
	if len(seen) < 2 {
		t.Errorf("8 operations drawn from %v all took the same time: %v", l, seen)
	}
}
