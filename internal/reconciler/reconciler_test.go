package reconciler

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// setup is three healthy forwarders with their routes announced, the
// foreign routes in place, and a reconciler running that has seen every
// forwarder Healthy.
func setup(t *testing.T) (*harness, []string) {
	h := newHarness(t, 3)
	h.announce()
	insts := h.instances()
	foreign := h.insertForeignRoutes(insts[0])
	h.fake.ResetRequestCounts()
	return h, foreign
}

func waitHealthy(h *harness, r *Reconciler, n int) {
	h.t.Helper()
	h.waitFor("every forwarder healthy", 5*time.Second, func() bool {
		rep := r.LastReport()
		healthy := 0
		for _, f := range rep.Decision.Forwarders {
			if f.State == "healthy" {
				healthy++
			}
		}
		return healthy == n
	})
}

func TestPrunesForwarderThatStopsAnswering(t *testing.T) {
	h, foreign := setup(t)
	r, reg := h.start("r1")
	waitHealthy(h, r, 3)
	victim := h.instances()[0]
	if got := len(h.routesOf(victim.ID)); got != len(wantedRanges) {
		t.Fatalf("victim has %d routes before the test, want %d", got, len(wantedRanges))
	}
	h.agent(victim).mode.Store(agentHung)
	took := h.waitFor("the hung forwarder's routes deleted", 10*time.Second, func() bool { return len(h.routesOf(victim.ID)) == 0 })
	// Budget: failures × interval + timeout (190ms) + one delete (20ms op).
	t.Logf("routes of the hung forwarder gone %v after it stopped answering", took)
	for _, inst := range h.instances()[1:] {
		if got := len(h.routesOf(inst.ID)); got != len(wantedRanges) {
			t.Errorf("healthy forwarder %s has %d routes, want %d", inst.Name, got, len(wantedRanges))
		}
	}
	h.assertPresent(foreign)
	h.waitFor("detection-to-prune observed", 2*time.Second, func() bool {
		return gauge(t, reg, "vpclink_detection_to_prune_seconds") >= 1
	})
	h.waitFor("both deletes counted ok", 2*time.Second, func() bool {
		return gauge(t, reg, "vpclink_route_operations_total", "op", "delete", "result", "ok") >= float64(len(wantedRanges))
	})
}

func TestPrunesOnAPIEvidenceWithoutWaitingForProbes(t *testing.T) {
	h, foreign := setup(t)
	// Probes so slow that no probe verdict can change during the test: the
	// first probes come at once, the second an hour later, and Healthy
	// takes two.
	h.cfg.Probe.Interval.Duration = time.Hour
	h.cfg.Probe.Successes = 2
	r, _ := h.start("r1")
	insts := h.instances()
	// With an hour between probes nothing is Healthy: the routes are kept
	// as Starting/Unknown until API evidence arrives.
	time.Sleep(100 * time.Millisecond)
	if n := h.mutatingCalls(); n != 0 {
		t.Fatalf("%d mutating calls before any evidence", n)
	}
	terminated, deleted := insts[1], insts[2]
	if err := h.fake.SetStatus(testProject, testZone, terminated.Name, gcefake.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	if err := h.fake.DeleteInstance(testProject, testZone, deleted.Name); err != nil {
		t.Fatal(err)
	}
	h.waitFor("terminated and deleted forwarders' routes pruned", 5*time.Second, func() bool {
		return len(h.routesOf(terminated.ID)) == 0 && len(h.routesOf(deleted.ID)) == 0
	})
	if got := len(h.routesOf(insts[0].ID)); got != len(wantedRanges) {
		t.Errorf("untouched forwarder has %d routes, want %d", got, len(wantedRanges))
	}
	h.assertPresent(foreign)
	var evidence []string
	for _, o := range r.LastReport().Outcomes {
		evidence = append(evidence, string(o.Action.Evidence))
	}
	for _, e := range evidence {
		if e != "api" {
			t.Errorf("prune evidence %q, want api only: %v", e, evidence)
		}
	}
}

func TestFailStaticWhenEveryProbeFails(t *testing.T) {
	h, foreign := setup(t)
	r, reg := h.start("r1")
	waitHealthy(h, r, 3)
	before := h.routeNames()
	h.fake.ResetRequestCounts()
	for _, inst := range h.instances() {
		h.agent(inst).mode.Store(agentHung)
	}
	h.waitFor("fail static engaged", 5*time.Second, func() bool {
		return gauge(t, reg, "vpclink_fail_static") == 1
	})
	time.Sleep(500 * time.Millisecond) // several more probe rounds and passes
	if n := h.mutatingCalls(); n != 0 {
		t.Errorf("%d mutating calls while every probe fails, want 0", n)
	}
	after := h.routeNames()
	for name := range before {
		if !after[name] {
			t.Errorf("route %s deleted under fail static", name)
		}
	}
	doc := getStatus(t, r)
	if !doc.FailStatic.Engaged || doc.FailStatic.Reason == "" {
		t.Errorf("/status failStatic = %+v, want engaged with a reason", doc.FailStatic)
	}
	h.assertPresent(foreign)

	// When the forwarders answer again, fail static releases.
	for _, inst := range h.instances() {
		h.agent(inst).mode.Store(agentReady)
	}
	h.waitFor("fail static released", 5*time.Second, func() bool {
		return gauge(t, reg, "vpclink_fail_static") == 0
	})
}

func TestRestoresRecoveredForwarder(t *testing.T) {
	h, foreign := setup(t)
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	victim := h.instances()[0]
	a := h.agent(victim)
	a.mode.Store(agentUnready)
	h.waitFor("unready forwarder pruned", 5*time.Second, func() bool { return len(h.routesOf(victim.ID)) == 0 })
	a.mode.Store(agentReady)
	h.waitFor("recovered forwarder's routes restored", 5*time.Second, func() bool {
		return len(h.routesOf(victim.ID)) == len(wantedRanges)
	})
	restored := map[string]bool{}
	for _, name := range h.routesOf(victim.ID) {
		restored[name] = true
	}
	for _, rt := range h.fake.Routes(testProject) {
		if restored[rt.GetName()] && rt.GetNextHopInstance() == "" {
			t.Errorf("restored route %s has no next-hop instance", rt.GetName())
		}
	}
	h.assertPresent(foreign)
}

func TestReplicaPairDoesNoDuplicateDamage(t *testing.T) {
	h, foreign := setup(t)
	r1, _ := h.start("r1")
	r2, _ := h.start("r2")
	waitHealthy(h, r1, 3)
	waitHealthy(h, r2, 3)
	h.fake.ResetRequestCounts()
	victim := h.instances()[0]
	h.agent(victim).mode.Store(agentHung)
	h.waitFor("victim pruned", 10*time.Second, func() bool { return len(h.routesOf(victim.ID)) == 0 })
	time.Sleep(700 * time.Millisecond) // both replicas run more passes
	counts := h.fake.RequestCounts()
	if counts["routes.insert"] != 0 {
		t.Errorf("%d inserts by the replica pair, want 0 (nothing to restore)", counts["routes.insert"])
	}
	// Each replica may issue each delete once; the loser gets 404 = success,
	// or first 400 resourceNotReady while the winner's operation runs and
	// then 404 on its one retry.
	if d := counts["routes.delete"]; d < int64(len(wantedRanges)) || d > int64(3*len(wantedRanges)) {
		t.Errorf("%d deletes by the replica pair, want %d..%d", d, len(wantedRanges), 3*len(wantedRanges))
	}
	for _, inst := range h.instances()[1:] {
		if got := len(h.routesOf(inst.ID)); got != len(wantedRanges) {
			t.Errorf("healthy forwarder %s has %d routes, want %d", inst.Name, got, len(wantedRanges))
		}
	}

	// Both restore the recovered forwarder: each insert at most once per
	// replica (the loser's 409 is success), and then quiet: no flapping.
	h.fake.ResetRequestCounts()
	h.agent(victim).mode.Store(agentReady)
	h.waitFor("victim restored", 10*time.Second, func() bool { return len(h.routesOf(victim.ID)) == len(wantedRanges) })
	time.Sleep(700 * time.Millisecond)
	counts = h.fake.RequestCounts()
	if i := counts["routes.insert"]; i < int64(len(wantedRanges)) || i > int64(2*len(wantedRanges)) || counts["routes.delete"] != 0 {
		t.Errorf("restore by the replica pair: %d inserts, %d deletes; want %d..%d inserts and no delete",
			i, counts["routes.delete"], len(wantedRanges), 2*len(wantedRanges))
	}
	h.fake.ResetRequestCounts()
	time.Sleep(700 * time.Millisecond)
	if n := h.mutatingCalls(); n != 0 {
		t.Errorf("%d mutating calls by the converged replica pair, want 0", n)
	}
	h.assertPresent(foreign)
}

func TestConvergesUnderAPIFaults(t *testing.T) {
	h, foreign := setup(t)
	h.fake.SetFault(gcefake.AllMethods, gcefake.Fault{Rate: 0.3, Codes: []int{403, 429, 500, 503}})
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	insts := h.instances()
	hung, stopped := insts[0], insts[1]
	h.agent(hung).mode.Store(agentHung)
	if err := h.fake.SetStatus(testProject, testZone, stopped.Name, gcefake.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	h.waitFor("convergence with 30% API faults", 20*time.Second, func() bool {
		return len(h.routesOf(hung.ID)) == 0 && len(h.routesOf(stopped.ID)) == 0
	})
	if got := len(h.routesOf(insts[2].ID)); got != len(wantedRanges) {
		t.Errorf("healthy forwarder has %d routes, want %d", got, len(wantedRanges))
	}
	h.fake.SetFault(gcefake.AllMethods, gcefake.Fault{})
	h.assertPresent(foreign)
}

func TestSteadyStateIssuesNoMutatingCalls(t *testing.T) {
	h, _ := setup(t)
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	time.Sleep(200 * time.Millisecond)
	h.fake.ResetRequestCounts()
	var passes int
	for range 5 {
		rep, err := r.Pass(context.Background())
		if err != nil {
			t.Fatalf("pass: %v", err)
		}
		if len(rep.Decision.Actions) != 0 {
			t.Fatalf("steady pass planned %d actions: %v", len(rep.Decision.Actions), rep.Decision.Actions)
		}
		passes++
	}
	counts := h.fake.RequestCounts()
	if n := h.mutatingCalls(); n != 0 {
		t.Errorf("%d mutating calls in steady state, want 0 (%v)", n, counts)
	}
	for _, m := range []string{"routes.get", "instances.get"} {
		if counts[m] != 0 {
			t.Errorf("%s called %d times: a pass must only list", m, counts[m])
		}
	}
	// Background passes may add to ours; ours alone are 1 list of each kind.
	if counts["routes.list"] < int64(passes) || counts["instanceGroupManagers.listManagedInstances"] < int64(passes) {
		t.Errorf("request counts %v, want at least one list of each kind per pass", counts)
	}
}

func TestStatusEndpoint(t *testing.T) {
	h, _ := setup(t)
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	doc := getStatus(t, r)
	if len(doc.Forwarders) != 3 || doc.LastPass == nil || doc.FailStatic.Engaged {
		t.Fatalf("/status = %+v, want 3 forwarders, a last pass, no fail static", doc)
	}
	for _, f := range doc.Forwarders {
		if f.Health != "healthy" || len(f.Routes) != len(wantedRanges) || f.ID == "" || f.Zone != testZone {
			t.Errorf("/status forwarder %+v, want healthy with %d routes", f, len(wantedRanges))
		}
	}
}

func getStatus(t *testing.T, r *Reconciler) StatusDoc {
	t.Helper()
	srv := httptest.NewServer(r.Handler(nil))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/status")
	if err != nil {
		t.Fatalf("GET /status: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc StatusDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode /status %s: %v", body, err)
	}
	return doc
}

func TestRecreatedForwarderStaleRoutesPrunedNewOnesRestored(t *testing.T) {
	h, foreign := setup(t)
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	old := h.instances()[0]
	err := h.api.Groups.RecreateInstances(context.Background(),
		gce.GroupRef{Project: testProject, Name: testGroup, Zone: testZone}, []string{old.SelfLink})
	if err != nil {
		t.Fatalf("recreate %s: %v", old.Name, err)
	}
	var fresh gce.Instance
	h.waitFor("a new incarnation", 5*time.Second, func() bool {
		for _, in := range h.instances() {
			if in.Name == old.Name && in.ID != old.ID && in.Status == gcefake.StatusRunning {
				fresh = in
				return true
			}
		}
		return false
	})
	h.waitFor("old incarnation's routes pruned, new one's restored", 5*time.Second, func() bool {
		return len(h.routesOf(old.ID)) == 0 && len(h.routesOf(fresh.ID)) == len(wantedRanges)
	})
	h.assertPresent(foreign)
}

func TestNoActionOnAPartialPicture(t *testing.T) {
	h, foreign := setup(t)
	h.fake.SetFault("instances.list", gcefake.Fault{Rate: 1, Codes: []int{500}})
	r, reg := h.start("r1")
	stopped := h.instances0()
	if err := h.fake.SetStatus(testProject, testZone, stopped.Name, gcefake.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	h.waitFor("failed passes counted", 10*time.Second, func() bool {
		return gauge(t, reg, "vpclink_reconcile_errors_total") >= 2
	})
	if n := h.mutatingCalls(); n != 0 {
		t.Errorf("%d mutating calls while instances could not be listed, want 0", n)
	}
	if doc := getStatus(t, r); doc.LastPass == nil || doc.LastPass.Error == "" {
		t.Errorf("/status lastPass = %+v, want the read error", doc.LastPass)
	}
	// The loop did not stop: once the API answers, it converges.
	h.fake.SetFault("instances.list", gcefake.Fault{})
	h.waitFor("terminated forwarder pruned after the API recovered", 10*time.Second, func() bool {
		return len(h.routesOf(stopped.ID)) == 0
	})
	h.assertPresent(foreign)
}

func TestRegionalGroupListsEachZoneOnce(t *testing.T) {
	h := newHarness(t, 1)
	if err := h.fake.CreateGroup(gcefake.GroupSpec{
		Project: testProject, Name: "fwdr", Region: "r1", Zones: []string{"r1-a", "r1-b"}, TargetSize: 2,
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.1.0.0/16"}, {Network: "vpc-b", Subnet: "10.101.0.0/16"}},
	}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("regional group running", 5*time.Second, func() bool {
		n := 0
		for _, in := range h.fake.Instances() {
			if in.Group == "fwdr" && in.Status == gcefake.StatusRunning {
				n++
			}
		}
		return n == 2
	})
	h.cfg.Groups = append(h.cfg.Groups, config.Group{Name: "fwdr", Region: "r1"})
	h.announce()
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	var regional []gce.Instance
	for _, in := range h.allInstances() {
		if h.groupOf(in) == "fwdr" {
			regional = append(regional, in)
		}
	}
	if len(regional) != 2 || regional[0].Zone == regional[1].Zone {
		t.Fatalf("regional instances %v, want one in each of two zones", regional)
	}
	h.fake.ResetRequestCounts()
	rep, err := r.Pass(context.Background())
	if err != nil || len(rep.Decision.Actions) != 0 {
		t.Fatalf("steady pass: %v, actions %v", err, rep.Decision.Actions)
	}
	counts := h.fake.RequestCounts()
	// Our pass lists each of the 3 zones (background passes may add more)
	// and never gets an instance.
	if n := counts["instances.list"]; n < 3 || counts["instances.get"] != 0 {
		t.Errorf("instances.list %d, instances.get %d: want one list per zone and no gets", n, counts["instances.get"])
	}
	stopped := regional[1]
	if err := h.fake.SetStatus(testProject, stopped.Zone, stopped.Name, gcefake.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	h.waitFor("terminated regional forwarder pruned", 5*time.Second, func() bool { return len(h.routesOf(stopped.ID)) == 0 })
	if got := len(h.routesOf(regional[0].ID)); got != len(wantedRanges) {
		t.Errorf("other regional forwarder has %d routes, want %d", got, len(wantedRanges))
	}
}

func TestStaleDeleteWaitsForItsInsert(t *testing.T) {
	h, _ := setup(t)
	r, err := New(Options{Config: h.cfg, API: h.api, ForwarderURL: h.forwarderURL, CallTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	insts := h.instances()
	oldRoutes := h.routesOf(insts[0].ID)
	keep, other := oldRoutes[0], h.routesOf(insts[1].ID)[0]
	routeNamed := func(name string) gce.Route { return gce.Route{Name: name, Project: testProject} }
	// The insert fails (its next hop does not exist: 404), so the stale
	// delete ordered after it must not run; an unordered delete runs.
	insert := gce.Route{Name: "vpclink-1-00000000", Project: testProject, Network: "vpc-a", DestRange: "10.19.16.0/20",
		Priority: 900, NextHopInstance: "projects/proj/zones/z1/instances/no-such-vm", Description: "vpclink:v1 instance=no-such-vm"}
	outcomes := r.apply(context.Background(), []routeplan.Action{
		{Op: routeplan.OpInsert, Route: insert, Evidence: routeplan.EvidenceRestore},
		{Op: routeplan.OpDelete, Route: routeNamed(keep), Evidence: routeplan.EvidenceStale, After: insert.Name},
		{Op: routeplan.OpDelete, Route: routeNamed(other), Evidence: routeplan.EvidenceAPI},
	})
	if outcomes[0].Err == nil || !outcomes[1].Skipped || outcomes[2].Err != nil || outcomes[2].Skipped {
		t.Fatalf("outcomes: insert err %v, stale delete skipped %v, api delete err %v", outcomes[0].Err, outcomes[1].Skipped, outcomes[2].Err)
	}
	have := h.routeNames()
	if !have[keep] || have[other] {
		t.Errorf("after apply: %s present %v (want true), %s present %v (want false)", keep, have[keep], other, have[other])
	}
}
