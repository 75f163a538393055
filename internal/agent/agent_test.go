package agent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// get does one request against the agent's handler.
func get(t *testing.T, a *Agent, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// TestBootAnnounceThenDrain: boot announces exactly the configured routes,
// /readyz follows the lifecycle, and stop withdraws every route (operation
// DONE) before Run returns, which is only after the grace.
func TestBootAnnounceThenDrain(t *testing.T) {
	e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(50 * time.Millisecond)})
	inst := e.createInstance("fwd-1", testConfig)
	// A route vpclink does not own, with a name of our shape: never touched.
	foreign := gce.Route{Name: naming.RouteName("vpclink", instanceid.ID(inst.ID), testProject, "vpc-a", "192.168.0.0/16"),
		Project: testProject, Network: "vpc-a", DestRange: "192.168.0.0/16", Priority: 1000,
		NextHopIP: inst.NICs[0].IP, Description: "hand-made"}
	if err := e.clients.Routes.Insert(t.Context(), foreign); err != nil {
		t.Fatal(err)
	}
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	if code, _ := get(t, a, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Run: %d, want 503", code)
	}
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	if code, body := get(t, a, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when serving: %d %q, want 200", code, body)
	}

	instURL := "https://www.googleapis.com/compute/v1/projects/" + testProject + "/zones/" + testZone + "/instances/fwd-1"
	want := map[string]string{}
	for _, w := range []struct {
		network, dest string
		prio          uint32
		tags, hop     string
	}{
		{"vpc-a", "10.19.16.0/20", 900, "fwd-clients", "instance " + instURL},
		{"vpc-a", "10.19.32.0/20", 900, "fwd-clients", "instance " + instURL},
		{"vpc-b", "10.0.0.0/16", 800, "", "ip " + inst.NICs[1].IP},
	} {
		name := naming.RouteName("vpclink", instanceid.ID(inst.ID), testProject, w.network, w.dest)
		want[name] = strings.Join([]string{w.network, w.dest, strconv.Itoa(int(w.prio)), w.tags, w.hop,
			"vpclink:v1 instance=fwd-1 zone=" + testZone + " group=fwd project=" + testProject + " agent=test"}, " | ")
	}
	got := map[string]string{}
	for _, rt := range e.fake.Routes(testProject) {
		if rt.GetName() == foreign.Name {
			continue
		}
		hop := "instance " + rt.GetNextHopInstance()
		if rt.GetNextHopIp() != "" {
			hop = "ip " + rt.GetNextHopIp()
		}
		got[rt.GetName()] = strings.Join([]string{naming.NetworkName(rt.GetNetwork()), rt.GetDestRange(),
			strconv.Itoa(int(rt.GetPriority())), strings.Join(rt.GetTags(), ","), hop, rt.GetDescription()}, " | ")
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("route %s:\n got %q\nwant %q", name, got[name], w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected route %s: %s", name, got[name])
		}
	}

	var st agentapi.Status
	_, body := get(t, a, "/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status: %v: %s", err, body)
	}
	if !st.Ready || st.Phase != PhaseServing || st.Instance.Name != "fwd-1" || st.Instance.ID != instanceid.ID(inst.ID) ||
		len(st.Routes) != 3 || st.DataPlane == nil {
		t.Errorf("/status when serving: %s", body)
	}

	if code, body := get(t, a, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz when serving: %d %q", code, body)
	}
	_, metrics := get(t, a, "/metrics")
	for _, want := range []string{
		`vpclink_agent_route_operations_total{op="insert",result="ok"} 3`,
		`vpclink_agent_dataplane_repairs_total{cause="startup"} 1`,
		"vpclink_agent_announce_duration_seconds ",
		"vpclink_agent_ready 1",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	r.stop()
	eventually(t, 2*time.Second, "/readyz 503 once draining", func() bool {
		code, _ := get(t, a, "/readyz")
		return code == http.StatusServiceUnavailable
	})
	err := r.wait(t, 20*time.Second)
	returned := time.Now()
	if err != nil {
		t.Fatalf("Run after stop: %v", err)
	}
	if left := e.liveRouteNames(); !slices.Equal(left, []string{foreign.Name}) {
		t.Errorf("routes when Run returned: %v, want only the foreign %s", left, foreign.Name)
	}
	var lastDelete time.Time
	for _, c := range e.routes.snapshot() {
		if c.op == "delete" && c.err == nil && c.end.After(lastDelete) {
			lastDelete = c.end
		}
	}
	if lastDelete.IsZero() {
		t.Fatal("no delete call recorded")
	}
	if gap := returned.Sub(lastDelete); gap < 300*time.Millisecond {
		t.Errorf("Run returned %v after the last delete was DONE, want at least the grace 300ms", gap)
	}
	if st := a.Status(); st.Phase != PhaseDrained || st.Ready {
		t.Errorf("after Run: phase %q ready %v, want drained, false", st.Phase, st.Ready)
	}
}

// TestReadyzFollowsDataPlane: /readyz drops to 503 while the kernel state
// is broken beyond repair (nic1 down) and comes back when it is fixed.
func TestReadyzFollowsDataPlane(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	e.fwd.IP(t, "link", "set", "eth1", "down")
	eventually(t, 5*time.Second, "/readyz 503 with nic1 down", func() bool {
		code, _ := get(t, a, "/readyz")
		return code == http.StatusServiceUnavailable
	})
	if st := a.Status(); st.Phase != PhaseServing || st.Ready {
		t.Errorf("nic1 down: phase %q ready %v, want serving, false", st.Phase, st.Ready)
	}
	e.fwd.IP(t, "link", "set", "eth1", "up")
	eventually(t, 10*time.Second, "/readyz 200 with nic1 back", func() bool {
		code, _ := get(t, a, "/readyz")
		return code == http.StatusOK
	})
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestDrainKeepsForwarding: during the grace the keeper still runs and
// repairs the data plane: the forwarder keeps forwarding while GCE
// converges on the withdrawal.
func TestDrainKeepsForwarding(t *testing.T) {
	cfg := strings.Replace(testConfig, "grace: 300ms", "grace: 3s", 1)
	e := newEnv(t, gcefake.Options{})
	inst := e.createInstance("fwd-1", cfg)
	a := e.agentFor(inst, e.newTestDataPlane(inst, cfg), nil)
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	r.stop()
	eventually(t, 10*time.Second, "routes withdrawn", func() bool { return len(e.liveRouteNames()) == 0 })
	e.fwd.IP(t, "route", "del", "default", "table", "1")
	eventually(t, 2*time.Second, "rt1 default route restored during the grace", func() bool {
		out, err := e.fwd.TryIP("route", "show", "table", "1")
		return err == nil && strings.Contains(out, "default via "+inst.NICs[1].Gateway)
	})
	select {
	case err := <-r.done:
		t.Fatalf("Run returned (%v) within the grace", err)
	default:
	}
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
