package agent

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/dataplane"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/kernel/kerneltest"
	"github.com/vpclink/vpclink/internal/policy"
)

// fakeDataPlane is a real keeper over the in-memory kernel, with inst's NICs
// as eth0 and eth1: the agent's control plane tested without root.
func (e *env) fakeDataPlane(inst gcefake.Instance, cfgText string) *dataplane.Keeper {
	e.t.Helper()
	cfg, err := config.LoadAgent([]byte(cfgText))
	if err != nil {
		e.t.Fatal(err)
	}
	link := func(name string, nic gcefake.InstanceNIC) policy.Link {
		mask, err := netip.ParseAddr(nic.Subnetmask)
		if err != nil {
			e.t.Fatal(err)
		}
		bits := 0
		for _, b := range mask.AsSlice() {
			for ; b != 0; b <<= 1 {
				bits++
			}
		}
		return policy.Link{Name: name, MAC: nic.MAC, Up: true,
			Addrs: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(nic.IP), bits)}}
	}
	k := kerneltest.NewFake(link("eth0", inst.NICs[0]), link("eth1", inst.NICs[1]))
	e.kernel = k
	return dataplane.New(dataplane.Config{
		NIC0MAC: inst.NICs[0].MAC, NIC1MAC: inst.NICs[1].MAC, NIC1Gateway: inst.NICs[1].Gateway,
		Policy: cfg.PolicyRouting,
	}, k, e.reg, e.log)
}

// markedAgent is an agent on the fake kernel that watches inst's metadata
// for the drain mark through the real metadata client.
func (e *env) markedAgent(inst gcefake.Instance) *Agent {
	return e.agentFor(inst, e.fakeDataPlane(inst, testConfig), func(o *Options) {
		o.Metadata = gce.NewMetadata(inst.MetadataHost)
	})
}

func (e *env) setMark(inst gcefake.Instance, value string) {
	e.t.Helper()
	if err := e.fake.SetAttribute(testProject, testZone, inst.Name, gce.DrainMetadataKey, value); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) inserts() int {
	n := 0
	for _, c := range e.routes.snapshot() {
		if c.op == "insert" {
			n++
		}
	}
	return n
}

// The drain mark withdraws a running forwarder's routes and keeps it
// running (draining, /readyz 503, still forwarding); clearing it announces
// them again.
func TestDrainMarkWithdrawsAndClearAnnounces(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of simulated time: full tier only (make test)")
	}
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.markedAgent(inst)
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	want := len(a.Wanted())

	e.setMark(inst, "2026-12-03T17:00:00Z by test")
	eventually(t, 10*time.Second, "routes withdrawn for the mark", func() bool { return len(e.liveRouteNames()) == 0 })
	eventually(t, 5*time.Second, "phase drained", func() bool { return a.Status().Phase == PhaseDrained })
	st := a.Status()
	if !st.Draining || st.Ready || !st.Forwarding {
		t.Errorf("marked: draining %v ready %v forwarding %v, want true, false, true", st.Draining, st.Ready, st.Forwarding)
	}
	code, body := get(t, a, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "drained") {
		t.Errorf("/readyz while marked = %d %q, want 503 naming drained", code, body)
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run returned (%v) for a drain mark", err)
	case <-time.After(300 * time.Millisecond):
	}

	e.setMark(inst, "")
	eventually(t, 10*time.Second, "ready again after the mark is cleared", a.Ready)
	if n := len(e.liveRouteNames()); n != want {
		t.Errorf("%d live routes after the mark is cleared, want %d", n, want)
	}
	if st := a.Status(); st.Draining || st.Phase != PhaseServing {
		t.Errorf("cleared: draining %v phase %s", st.Draining, st.Phase)
	}
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(e.liveRouteNames()); n != 0 {
		t.Errorf("%d routes left after the stop", n)
	}
}

// An agent starting on a marked instance (a restart during maintenance)
// announces nothing, and starts announcing when the mark goes.
func TestDrainMarkSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	e.setMark(inst, "by test")
	a := e.markedAgent(inst)
	r := start(a)
	eventually(t, 10*time.Second, "phase drained", func() bool { return a.Status().Phase == PhaseDrained })
	time.Sleep(500 * time.Millisecond)
	if n := e.inserts(); n != 0 {
		t.Errorf("%d inserts by an agent started on a marked instance, want 0", n)
	}
	if st := a.Status(); !st.Draining || st.Ready {
		t.Errorf("marked at start: draining %v ready %v", st.Draining, st.Ready)
	}
	e.setMark(inst, "")
	eventually(t, 10*time.Second, "ready once the mark is cleared", a.Ready)
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Clearing the mark while the data plane is broken announces nothing until
// the data plane is ready again.
func TestDrainMarkClearedWaitsForDataPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of simulated time: full tier only (make test)")
	}
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.markedAgent(inst)
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	e.setMark(inst, "by test")
	eventually(t, 10*time.Second, "phase drained", func() bool { return a.Status().Phase == PhaseDrained })
	e.kernel.SetLinkUp("eth1", false)
	eventually(t, 5*time.Second, "data plane not ready", func() bool { return !a.Status().Forwarding })
	inserts := e.inserts()
	e.setMark(inst, "")
	time.Sleep(2 * time.Second) // more than the mark watch's pace
	if n := e.inserts() - inserts; n != 0 || a.Status().Phase != PhaseDrained {
		t.Errorf("mark cleared with nic1 down: %d inserts, phase %s; want none, drained", n, a.Status().Phase)
	}
	e.kernel.SetLinkUp("eth1", true)
	eventually(t, 10*time.Second, "ready once nic1 is back", a.Ready)
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// A stop while drained by the mark ends Run after the grace, cleanly.
func TestStopWhileMarked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.markedAgent(inst)
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	e.setMark(inst, "by test")
	eventually(t, 10*time.Second, "phase drained", func() bool { return a.Status().Phase == PhaseDrained })
	r.stop()
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(e.liveRouteNames()); n != 0 {
		t.Errorf("%d routes left", n)
	}
}

// stuckRoutes makes the insert of one route name hang after GCE applied it,
// as an insert whose operation GCE is slow to report DONE does.
type stuckRoutes struct {
	*recordingRoutes
	stuck   string
	blocked atomic.Bool
}

func (s *stuckRoutes) Insert(ctx context.Context, rt gce.Route) error {
	err := s.recordingRoutes.Insert(ctx, rt)
	if rt.Name == s.stuck && err == nil {
		s.blocked.Store(true)
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

// An insert still in flight at the stop must not leave the drain with a
// cancelled context: the drain deletes every route, the stuck one included,
// before the stop deadline.
func TestStopDuringStuckInsert(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of simulated time: full tier only (make test)")
	}
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	var stuck *stuckRoutes
	a := e.agentFor(inst, e.fakeDataPlane(inst, testConfig), func(o *Options) {
		stuck = &stuckRoutes{recordingRoutes: e.routes}
		o.Routes = stuck
		o.StopTimeout = 3 * time.Second
	})
	stuck.stuck = a.Wanted()[0].Name
	r := start(a)
	eventually(t, 10*time.Second, "every insert issued, one stuck", func() bool {
		return stuck.blocked.Load() && len(e.liveRouteNames()) == len(a.Wanted())
	})
	r.stop()
	err := r.wait(t, 10*time.Second)
	if left := e.liveRouteNames(); len(left) != 0 {
		t.Errorf("routes left after the drain: %v (Run: %v)", left, err)
	}
	if took := time.Since(r.stopped); took > 3500*time.Millisecond {
		t.Errorf("drain took %v, want within the 3s stop timeout", took)
	}
}
