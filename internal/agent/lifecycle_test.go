package agent

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// insertAll creates routes directly, as a previous agent would have.
func (e *env) insertAll(routes []gce.Route) {
	e.t.Helper()
	for _, r := range routes {
		if err := e.clients.Routes.Insert(context.Background(), r); err != nil {
			e.t.Fatal(err)
		}
	}
}

func names(routes []gce.Route) []string {
	var out []string
	for _, r := range routes {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// TestRecreatedInstanceReplacesOldIncarnation: after a recreate (same name,
// new id) the new agent inserts its routes, and only once they are DONE
// deletes the old incarnation's; another forwarder's routes stay.
func TestRecreatedInstanceReplacesOldIncarnation(t *testing.T) {
	e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(30 * time.Millisecond)})
	old := e.createInstance("fwd-1", testConfig)
	other := e.createInstance("fwd-2", testConfig)
	oldAgent := e.agentFor(old, nil, nil)
	otherAgent := e.agentFor(other, nil, nil)
	e.insertAll(oldAgent.Wanted())
	e.insertAll(otherAgent.Wanted())
	// The old incarnation panicked: its routes stay. The MIG recreates it.
	if err := e.fake.DeleteInstance(testProject, testZone, "fwd-1"); err != nil {
		t.Fatal(err)
	}
	inst := e.createInstance("fwd-1", testConfig)
	if inst.ID == old.ID {
		t.Fatalf("recreated instance kept id %d", inst.ID)
	}
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	// A route of this id for a range the config no longer names.
	dropped := a.Wanted()[0]
	dropped.DestRange = "10.77.0.0/16"
	dropped.Name = naming.RouteName("vpclink", instanceid.ID(inst.ID), testProject, "vpc-a", dropped.DestRange)
	e.insertAll([]gce.Route{dropped})

	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)

	want := append(names(a.Wanted()), names(otherAgent.Wanted())...)
	sort.Strings(want)
	if got := e.liveRouteNames(); !slices.Equal(got, want) {
		t.Errorf("routes when ready:\n got %v\nwant %v (new incarnation + fwd-2)", got, want)
	}
	var lastInsert time.Time
	firstDelete := time.Now()
	deleted := map[string]bool{}
	for _, c := range e.routes.snapshot() {
		switch {
		case c.op == "insert" && c.end.After(lastInsert):
			lastInsert = c.end
		case c.op == "delete":
			deleted[c.name] = true
			if c.start.Before(firstDelete) {
				firstDelete = c.start
			}
		}
	}
	for _, n := range append(names(oldAgent.Wanted()), dropped.Name) {
		if !deleted[n] {
			t.Errorf("stale route %s was not deleted", n)
		}
	}
	if !firstDelete.After(lastInsert) {
		t.Errorf("a delete started at %v, before the last insert was DONE at %v: new must come before old",
			firstDelete.Format(time.StampMicro), lastInsert.Format(time.StampMicro))
	}
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := e.liveRouteNames(); !slices.Equal(got, names(otherAgent.Wanted())) {
		t.Errorf("after drain: %v, want only fwd-2's %v", got, names(otherAgent.Wanted()))
	}
}

// TestRestartFindsItsRoutes: an agent killed without draining leaves its
// routes; the next start treats them as its own (409 is success): no
// duplicates, no errors, no retries.
func TestRestartFindsItsRoutes(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	e.insertAll(a.Wanted())
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	if got := e.liveRouteNames(); !slices.Equal(got, names(a.Wanted())) {
		t.Errorf("routes after restart: %v, want %v", got, names(a.Wanted()))
	}
	for _, c := range e.routes.snapshot() {
		if c.err != nil {
			t.Errorf("%s %s: %v", c.op, c.name, c.err)
		}
	}
	if bad := e.logs.lines(`"severity":"WARNING"`); len(bad) > 0 {
		t.Errorf("warnings logged on restart:\n%s", strings.Join(bad, "\n"))
	}
	if bad := e.logs.lines(`"severity":"ERROR"`); len(bad) > 0 {
		t.Errorf("errors logged on restart:\n%s", strings.Join(bad, "\n"))
	}
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestFaultsConverge: with 30 % of Compute calls failing 503 during boot
// and drain, the agent still announces everything and withdraws
// everything.
func TestFaultsConverge(t *testing.T) {
	e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(10 * time.Millisecond)})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	e.fake.SetFault(gcefake.AllMethods, gcefake.Fault{Rate: 0.3, Codes: []int{503}})
	r := start(a)
	eventually(t, 20*time.Second, "agent ready despite faults", a.Ready)
	if got := e.liveRouteNames(); !slices.Equal(got, names(a.Wanted())) {
		t.Errorf("routes when ready: %v, want %v", got, names(a.Wanted()))
	}
	r.stop()
	if err := r.wait(t, 30*time.Second); err != nil {
		t.Fatalf("drain under faults: %v", err)
	}
	if got := e.liveRouteNames(); len(got) != 0 {
		t.Errorf("routes left after drain under faults: %v", got)
	}
	if counts := e.fake.RequestCounts(); len(counts) == 0 {
		t.Error("fake saw no requests")
	}
}

// TestOutageDelaysReadiness: while every insert fails the agent retries
// and stays not ready; when the API recovers it announces.
func TestOutageDelaysReadiness(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	e.fake.SetFault("routes.insert", gcefake.Fault{Rate: 1, Codes: []int{500}})
	r := start(a)
	eventually(t, 10*time.Second, "insert retried", func() bool {
		return len(e.logs.lines(`"op":"insert"`, "retrying", `"attempt":3`)) > 0
	})
	if a.Ready() {
		t.Fatal("ready while no insert can succeed")
	}
	e.fake.SetFault("routes.insert", gcefake.Fault{})
	eventually(t, 10*time.Second, "ready after the outage", a.Ready)
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestSecondStopCutsGrace: the grace (here 1 min) ends when Hurry closes.
func TestSecondStopCutsGrace(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", strings.Replace(testConfig, "grace: 300ms", "grace: 1m", 1))
	hurry := make(chan struct{})
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), func(o *Options) { o.Hurry = hurry })
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	r.stop()
	eventually(t, 10*time.Second, "routes withdrawn", func() bool { return len(e.liveRouteNames()) == 0 })
	select {
	case err := <-r.done:
		t.Fatalf("Run returned (%v) before the grace or a second signal", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(hurry)
	if err := r.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestStopTimeoutCutsGrace: the stop deadline ends the grace.
func TestStopTimeoutCutsGrace(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", strings.Replace(testConfig, "grace: 300ms", "grace: 1m", 1))
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), func(o *Options) { o.StopTimeout = 500 * time.Millisecond })
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	r.stop()
	if err := r.wait(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(r.stopped); took < 500*time.Millisecond || took > 3*time.Second {
		t.Errorf("Run returned %v after stop, want about the 500ms stop timeout", took)
	}
	if got := e.liveRouteNames(); len(got) != 0 {
		t.Errorf("routes left: %v", got)
	}
}

// TestWithdrawOnly: the one-shot deletes every route of this id, the
// wanted ones and any other owned one, and leaves other instances' routes.
func TestWithdrawOnly(t *testing.T) {
	e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(20 * time.Millisecond)})
	inst := e.createInstance("fwd-1", testConfig)
	other := e.createInstance("fwd-2", testConfig)
	a := e.agentFor(inst, nil, nil)
	otherAgent := e.agentFor(other, nil, nil)
	extra := a.Wanted()[0]
	extra.DestRange = "10.77.0.0/16"
	extra.Name = naming.RouteName("vpclink", instanceid.ID(inst.ID), testProject, "vpc-a", extra.DestRange)
	e.insertAll(append(a.Wanted(), extra))
	e.insertAll(otherAgent.Wanted())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := a.Withdraw(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.liveRouteNames(); !slices.Equal(got, names(otherAgent.Wanted())) {
		t.Errorf("after withdraw: %v, want only fwd-2's %v", got, names(otherAgent.Wanted()))
	}
}

// TestChangedRouteReplaced: a route of this id left with an older config
// (other priority and tags, same name) is deleted and re-inserted as the
// config now says; a missing one is inserted.
func TestChangedRouteReplaced(t *testing.T) {
	e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(10 * time.Millisecond)})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	old := a.Wanted()[0]
	old.Priority, old.Tags = 1000, []string{"old-tag"}
	e.insertAll([]gce.Route{old})
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	for _, rt := range e.fake.Routes(testProject) {
		if rt.GetName() != old.Name {
			continue
		}
		want := a.Wanted()[0]
		if rt.GetPriority() != want.Priority || !slices.Equal(rt.GetTags(), want.Tags) {
			t.Errorf("route %s: priority %d tags %v, want %d %v", rt.GetName(), rt.GetPriority(), rt.GetTags(), want.Priority, want.Tags)
		}
	}
	if got := e.liveRouteNames(); !slices.Equal(got, names(a.Wanted())) {
		t.Errorf("routes: %v, want %v", got, names(a.Wanted()))
	}
	if len(e.logs.lines(`"op":"replace"`, old.Name)) == 0 {
		t.Errorf("no replace logged for %s", old.Name)
	}
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// failingKeeper is the real keeper whose Run the test ends with an error,
// standing for a keeper that gave up.
type failingKeeper struct {
	DataPlane
	fail chan struct{}
}

func (f *failingKeeper) Run(ctx context.Context) error {
	kctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.DataPlane.Run(kctx) }()
	select {
	case <-f.fail:
		cancel()
		<-done
		return errors.New("netlink: the kernel stopped answering")
	case err := <-done:
		return err
	}
}

// TestKeeperStopWithdraws: if the keeper's Run ends while serving, the
// agent withdraws its routes and returns the keeper's error (exit 1, and
// systemd restarts it) instead of announcing a forwarder nobody keeps.
func TestKeeperStopWithdraws(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	dp := &failingKeeper{DataPlane: e.newTestDataPlane(inst, testConfig), fail: make(chan struct{})}
	a := e.agentFor(inst, dp, nil)
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	close(dp.fail)
	err := r.wait(t, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "the kernel stopped answering") {
		t.Errorf("Run returned %v, want the keeper's error", err)
	}
	if got := e.liveRouteNames(); len(got) != 0 {
		t.Errorf("routes left after the keeper stopped: %v", got)
	}
}

// TestRouteRestoredDuringGraceIsWithdrawn: a route of this instance that
// another writer puts back during the grace (a reconciler's restore that was
// in flight when the drain began) is withdrawn before the agent exits, so
// the exiting forwarder leaves nothing pointing at it.
func TestRouteRestoredDuringGraceIsWithdrawn(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", strings.Replace(testConfig, "grace: 300ms", "grace: 500ms", 1))
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	restored := a.Wanted()[0]
	r.stop()
	eventually(t, 10*time.Second, "routes withdrawn", func() bool { return len(e.liveRouteNames()) == 0 })
	if err := e.clients.Routes.Insert(t.Context(), restored); err != nil {
		t.Fatalf("restore %s: %v", restored.Name, err)
	}
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if left := e.liveRouteNames(); len(left) != 0 {
		t.Errorf("routes left when the agent exited: %v", left)
	}
}
