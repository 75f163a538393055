package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/naming"
)

// The acceptance harness: the fake Compute API over real HTTP, the real
// Google client, and one httptest server per forwarder incarnation standing
// in for its agent (/readyz and /status). ForwarderURL maps each instance to
// its agent server.

const (
	testProject = "proj"
	testZone    = "z1"
	testGroup   = "fwd"
	testPrefix  = "vpclink"
)

// wantedRanges are what every test agent announces.
var wantedRanges = []string{"10.19.16.0/20", "10.19.32.0/20"}

// agent modes.
const (
	agentReady int32 = iota
	agentUnready
	agentHung
	agentAnnouncing // answers 503 "not ready: announcing", as the agent does while it inserts
	agentDraining   // answers 503 "not ready: draining"
)

type fakeAgent struct {
	inst gce.Instance
	// routeProject is where its routes live: the instance's project, or a
	// Shared VPC host project.
	routeProject string
	mode         atomic.Int32
	srv          *httptest.Server
	// peerProbe answers GET /peer-probe: the harness probes the agent
	// at that address, as a witness agent does over nic0.
	peerProbe func(ctx context.Context, addr string) agentapi.PeerProbe
}

// project is the instance's project, from its URL.
func (a *fakeAgent) project() string {
	if p, _, ok := strings.Cut(strings.TrimPrefix(a.inst.SelfLink[strings.Index(a.inst.SelfLink, "projects/"):], "projects/"), "/"); ok {
		return p
	}
	return testProject
}

func (a *fakeAgent) status() agentapi.Status {
	st := agentapi.Status{
		Instance: agentapi.Instance{Name: a.inst.Name, ID: instanceid.ID(a.inst.ID), Zone: a.inst.Zone, Project: a.project()},
		Ready:    a.mode.Load() == agentReady, Phase: "serving",
	}
	for _, r := range wantedRanges {
		st.Routes = append(st.Routes, agentapi.Route{
			Name: naming.RouteName(testPrefix, a.inst.ID, a.routeProject, "vpc-a", r), Project: a.routeProject,
			Network: "vpc-a", DestRange: r, Priority: 900, NextHop: a.inst.SelfLink,
		})
	}
	return st
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode := a.mode.Load()
	if mode == agentHung {
		<-r.Context().Done() // a panicked kernel: no answer at all
		return
	}
	switch r.URL.Path {
	case "/readyz":
		switch mode {
		case agentAnnouncing:
			http.Error(w, "not ready: announcing", http.StatusServiceUnavailable)
			return
		case agentDraining:
			http.Error(w, "not ready: draining", http.StatusServiceUnavailable)
			return
		case agentUnready:
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	case "/status":
		_ = json.NewEncoder(w).Encode(a.status())
	case "/healthz":
		fmt.Fprintln(w, "ok")
	case "/peer-probe":
		pp := a.peerProbe(r.Context(), r.URL.Query().Get("addr"))
		pp.Observer = a.inst.Name
		_ = json.NewEncoder(w).Encode(pp)
	default:
		http.NotFound(w, r)
	}
}

type harness struct {
	t       *testing.T
	fake    *gcefake.Server
	api     API
	clients *gce.Clients
	cfg     config.Reconciler
	// routeProject is where agents' routes live (default testProject).
	routeProject string

	mu     sync.Mutex
	agents map[instanceid.ID]*fakeAgent // by instance id
}

func newHarness(t *testing.T, size int) *harness {
	t.Helper()
	return newHarnessWith(t, gcefake.GroupSpec{
		Project: testProject, Name: testGroup, Zone: testZone, TargetSize: size,
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.0.0/16"}, {Network: "vpc-b", Subnet: "10.100.0.0/16"}},
	})
}

// newHarnessWith is newHarness with the given groups.
func newHarnessWith(t *testing.T, groups ...gcefake.GroupSpec) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: reconcilers, fake agents and the fake GCE running together (full tier)")
	}
	fake := gcefake.New(gcefake.Options{OpLatency: gcefake.Fixed(20 * time.Millisecond)})
	srv := httptest.NewServer(fake)
	h := &harness{t: t, fake: fake, agents: map[instanceid.ID]*fakeAgent{}, routeProject: testProject}
	t.Cleanup(func() {
		srv.Close()
		fake.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, a := range h.agents {
			a.srv.CloseClientConnections()
			a.srv.Close()
		}
	})
	clients, err := gce.NewClients(context.Background(), gce.ClientOptions{
		Endpoint: srv.URL + "/", CallTimeout: 5 * time.Second, OpPoll: 10 * time.Millisecond,
		RetryMax: 8, RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("gce clients: %v", err)
	}
	t.Cleanup(func() { _ = clients.Close() })
	h.clients = clients
	h.api = API{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups}
	size := 0
	for _, g := range groups {
		if err := fake.CreateGroup(g); err != nil {
			t.Fatalf("create group: %v", err)
		}
		size += g.TargetSize
	}
	h.waitFor("groups running", 5*time.Second, func() bool {
		n := 0
		for _, in := range fake.Instances() {
			if in.Status == gcefake.StatusRunning {
				n++
			}
		}
		return n == size
	})
	half := 0.5
	h.cfg = config.Reconciler{
		Project: testProject, RoutePrefix: testPrefix,
		Groups: []config.Group{{Name: testGroup, Zone: testZone}},
		Allow: []config.Allow{{Network: "vpc-a", DestRanges: []string{"10.19.0.0/16"},
			Priority: config.PriorityRange{Min: 100, Max: 1000}, PrefixLength: &config.LengthRange{Min: 16, Max: 24}}},
		Probe: config.Probe{Path: "/readyz", Interval: config.Duration{Duration: 50 * time.Millisecond},
			Timeout: config.Duration{Duration: 40 * time.Millisecond}, Failures: 3, Successes: 2},
		MinHealthyFraction: &half,
		BootGrace:          config.Duration{Duration: time.Second},
		Interval:           config.Duration{Duration: 300 * time.Millisecond},
	}
	return h
}

// agent returns the agent of an instance incarnation, starting it (ready)
// on first use.
func (h *harness) agent(inst gce.Instance) *fakeAgent {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.agents[inst.ID]
	if a == nil {
		a = &fakeAgent{inst: inst, routeProject: h.routeProject, peerProbe: h.peerProbe}
		a.srv = httptest.NewServer(a)
		h.agents[inst.ID] = a
	}
	return a
}

// peerProbe probes the /healthz of the agent whose nic0 is addr, with the
// probe timeout: any HTTP answer counts, as in the agent's /peer-probe.
func (h *harness) peerProbe(ctx context.Context, addr string) agentapi.PeerProbe {
	start := time.Now()
	pp := agentapi.PeerProbe{Target: addr, At: start.Format(time.RFC3339Nano)}
	var target *fakeAgent
	h.mu.Lock()
	for _, a := range h.agents {
		if nic0(a.inst) == addr {
			target = a
		}
	}
	h.mu.Unlock()
	if target == nil {
		pp.Err = "no agent at " + addr
		return pp
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Probe.Timeout.Duration)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target.srv.URL+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pp.Err = err.Error()
	} else {
		resp.Body.Close()
		pp.Answered, pp.Status = true, resp.StatusCode
	}
	pp.Took = time.Since(start).String()
	return pp
}

func (h *harness) forwarderURL(inst gce.Instance) string { return h.agent(inst).srv.URL }

// instances lists the group's instances through the real client.
func (h *harness) instances() []gce.Instance {
	h.t.Helper()
	insts, err := h.api.Instances.List(context.Background(), testProject, testZone)
	if err != nil {
		h.t.Fatalf("list instances: %v", err)
	}
	return insts
}

// instances0 is the first instance, read from the fake directly (the
// Compute API may be faulted).
func (h *harness) instances0() gce.Instance {
	h.t.Helper()
	for _, in := range h.fake.Instances() {
		return gce.Instance{Name: in.Name, ID: instanceid.ID(in.ID), Zone: in.Zone}
	}
	h.t.Fatal("no instances")
	return gce.Instance{}
}

// allInstances lists, through the real client, the instances of every zone
// the fake has instances in.
func (h *harness) allInstances() []gce.Instance {
	h.t.Helper()
	zones := map[string]bool{}
	for _, in := range h.fake.Instances() {
		zones[in.Project+"/"+in.Zone] = true
	}
	var out []gce.Instance
	for _, pz := range sortedSet(zones) {
		project, z, _ := strings.Cut(pz, "/")
		insts, err := h.api.Instances.List(context.Background(), project, z)
		if err != nil {
			h.t.Fatalf("list instances of %s: %v", pz, err)
		}
		out = append(out, insts...)
	}
	return out
}

// announce inserts the routes every agent wants, as agents do once ready.
func (h *harness) announce() {
	h.t.Helper()
	for _, inst := range h.allInstances() {
		h.announceOf(inst, false)
	}
}

// announceOf inserts what inst's agent wants, with project= in the marker
// (withProject) or as older agents wrote it.
func (h *harness) announceOf(inst gce.Instance, withProject bool) {
	h.t.Helper()
	{
		a := h.agent(inst)
		m := naming.Marker{Instance: inst.Name, Zone: inst.Zone, Group: h.groupOf(inst), Agent: "test"}
		if withProject {
			m.Project = a.project()
		}
		for _, r := range a.status().Routes {
			err := h.api.Routes.Insert(context.Background(), gce.Route{
				Name: r.Name, Project: r.Project, Network: r.Network, DestRange: r.DestRange, Priority: r.Priority,
				NextHopInstance: inst.SelfLink, Description: m.Description(),
			})
			if err != nil {
				h.t.Fatalf("announce %s: %v", r.Name, err)
			}
		}
	}
}

func (h *harness) groupOf(inst gce.Instance) string {
	for _, in := range h.fake.Instances() {
		if instanceid.ID(in.ID) == inst.ID {
			return in.Group
		}
	}
	return ""
}

// foreignRoutes are the routes every scenario must leave alone: one with
// the prefix and the shape of our names but no marker, one of another
// system, both aimed at the first forwarder (which scenarios kill).
func (h *harness) insertForeignRoutes(target gce.Instance) []string {
	h.t.Helper()
	routes := []gce.Route{
		{Name: naming.RouteName(testPrefix, target.ID, testProject, "vpc-a", "10.19.48.0/20"), Description: "made by hand, prefix only"},
		{Name: "other-system-" + target.ID.String(), Description: "not vpclink"},
	}
	var names []string
	for _, r := range routes {
		r.Project, r.Network, r.DestRange, r.Priority, r.NextHopInstance = testProject, "vpc-a", "10.19.48.0/20", 900, target.SelfLink
		if err := h.api.Routes.Insert(context.Background(), r); err != nil {
			h.t.Fatalf("insert foreign route %s: %v", r.Name, err)
		}
		names = append(names, r.Name)
	}
	return names
}

// routeNames returns the names of the live routes in the fake.
func (h *harness) routeNames() map[string]bool {
	out := map[string]bool{}
	for _, r := range h.fake.Routes(h.routeProject) {
		out[r.GetName()] = true
	}
	return out
}

// routesOf returns the live owned routes (name and marker) of instance id.
func (h *harness) routesOf(id instanceid.ID) []string {
	var out []string
	for _, r := range h.fake.Routes(h.routeProject) {
		name := r.GetName()
		if naming.IsOwned(testPrefix, name, r.GetDescription()) && strings.HasPrefix(name, testPrefix+"-"+id.String()+"-") {
			out = append(out, name)
		}
	}
	return out
}

func (h *harness) assertPresent(names []string) {
	h.t.Helper()
	have := h.routeNames()
	for _, n := range names {
		if !have[n] {
			h.t.Errorf("route %s was deleted; vpclink does not own it", n)
		}
	}
}

// start runs a reconciler until the test ends and returns it with its
// registry.
func (h *harness) start(name string) (*Reconciler, *prometheus.Registry) {
	h.t.Helper()
	return h.startWith(name, func(*Options) {})
}

// startWith is start with the options changed by edit.
func (h *harness) startWith(name string, edit func(*Options)) (*Reconciler, *prometheus.Registry) {
	h.t.Helper()
	reg := prometheus.NewRegistry()
	o := Options{
		Config: h.cfg, API: h.api, ForwarderURL: h.forwarderURL, Registerer: reg,
		Log: logging.NewTo(testWriter{h.t, name}, -1), Writer: "test-" + name, CallTimeout: 5 * time.Second,
		RateLimitRetry: 50 * time.Millisecond,
	}
	edit(&o)
	r, err := New(o)
	if err != nil {
		h.t.Fatalf("new reconciler: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	h.t.Cleanup(func() { cancel(); <-done })
	return r, reg
}

func (h *harness) waitFor(what string, limit time.Duration, cond func() bool) time.Duration {
	h.t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("timed out after %v waiting for %s", limit, what)
	return 0
}

func (h *harness) mutatingCalls() int64 {
	c := h.fake.RequestCounts()
	return c["routes.insert"] + c["routes.delete"]
}

// gauge reads a gauge or counter (with labels k=v) from reg; -1 when absent.
func gauge(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue metric
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// testWriter sends logs to t.Log, so they show only for failing tests.
type testWriter struct {
	t    *testing.T
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.name + ": " + strings.TrimSpace(string(p)))
	return len(p), nil
}
