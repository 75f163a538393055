package lab

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
)

func init() { registerDesign(func() design { return &nccDesign{} }) }

// nccDesign is Network Connectivity Center router appliances (ncc.go has
// the model and its sources): nccGuest on every forwarder, the Cloud
// Routers (CloudRouter) as control part feeding the fabric with dynamic
// routes. NCC publishes no autohealing for appliances: the group has none,
// and the lab recreates a panicked member once the scenario has measured,
// so that the outage measured is the hold timer's alone. Rolling updates
// are the MIG's own, like the ilb design's.
type nccDesign struct {
	mu    sync.Mutex
	cr    *CloudRouter
	grace time.Duration
}

func (*nccDesign) name() string { return "ncc-bgp" }

func (d *nccDesign) group(o Options) groupSpec {
	d.mu.Lock()
	d.grace = o.DrainGrace
	d.mu.Unlock()
	return groupSpec{metadata: map[string]string{"router-appliance": "bgp: keepalive 20s, hold 60s"}}
}

func (d *nccDesign) control(ctx context.Context, e *env) (func(), error) {
	cr := NewCloudRouter(e.topo, e.members, e.opts.Propagation, e.log.Named("cloudrouter"))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { cr.Run(ctx); close(done) }()
	remove := e.fabric.AddSource(cr)
	d.mu.Lock()
	d.cr = cr
	d.mu.Unlock()
	e.printf("ncc-bgp: Cloud Routers on %s and %s, keepalive %s, hold %s, no BFD, propagation %s",
		e.topo.VPCA(), e.topo.VPCB(), cr.keepalive, nccHoldFactor*cr.keepalive, e.opts.Propagation)
	return func() {
		cancel()
		<-done
		remove()
	}, nil
}

func (d *nccDesign) guest(gcefake.Instance) guest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return &nccGuestRun{grace: d.grace}
}

// Dynamic routes are not route resources: nothing of the design's is in
// the fake's routes, and nothing is left.
func (*nccDesign) routeID(string) uint64         { return 0 }
func (*nccDesign) ownsRoute(string, string) bool { return false }

// carrying is the Cloud Routers' routes in the data plane, per network.
func (d *nccDesign) carrying(*env) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	d.mu.Lock()
	cr := d.cr
	d.mu.Unlock()
	if cr == nil {
		return out
	}
	for _, r := range cr.EffectiveRoutes() {
		if out[r.Instance] == nil {
			out[r.Instance] = map[string]bool{}
		}
		out[r.Instance][r.Network] = true
	}
	return out
}

func (*nccDesign) supports(scenario string) bool {
	return slices.Contains([]string{"scale-0-1", "scale-1-3", "scale-3-1", "rolling-update", "panic", "nic1-flap", "mig-update"}, scenario)
}

func (*nccDesign) rollingUpdate(ctx context.Context, e *env, r *run) error {
	return migUpdate(ctx, e, r)
}

// nccGuestRun adapts nccGuest to the lab's guest lifecycle.
type nccGuestRun struct {
	grace time.Duration
	g     *nccGuest
}

func (r *nccGuestRun) start(env guestEnv) error {
	g, err := startNCCGuest(env.ns, env.inst, r.grace)
	if err != nil {
		return err
	}
	r.g = g
	return nil
}

func (r *nccGuestRun) stop(ctx context.Context) { r.g.Shutdown(ctx) }

// freeze: nothing answers any more. The blackhole rule (added first)
// drops the FIN the closed sessions would send, so the Cloud Router hears
// silence, not a NOTIFICATION.
func (r *nccGuestRun) freeze() error { r.g.Kill(); return nil }

func (r *nccGuestRun) kill() { r.g.Kill() }

// sampleCapacity watches, for a design whose traffic bypasses the fake's
// routes (its carrying is not nil: ilb, ncc-bgp), how many members carry
// traffic on both networks, every 100 ms until the returned func is called;
// that returns the fewest seen, and false for other designs (the fake's
// effective-route log says it).
func sampleCapacity(ctx context.Context, e *env) func() (int, bool) {
	count := func() (int, bool) {
		have := e.design.carrying(e)
		if have == nil {
			return 0, false
		}
		n := 0
		for _, nets := range have {
			if nets[NetworkA] && nets[NetworkB] {
				n++
			}
		}
		return n, true
	}
	low, ok := count()
	if !ok {
		return func() (int, bool) { return 0, false }
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, _ := count(); n < low {
					low = n
				}
			}
		}
	}()
	return func() (int, bool) {
		cancel()
		<-done
		return low, true
	}
}
