package reconciler

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// BenchmarkPass1000x10 measures one steady-state reconcile pass over 1,000
// forwarders with 10 routes each against the fake over HTTP: ns/op,
// allocs/op, Compute API requests per pass and the process RSS. A steady
// pass must issue no mutating call; the benchmark fails if one does.
func BenchmarkPass1000x10(b *testing.B) {
	const forwarders, routesEach = 1000, 10
	fake := gcefake.New(gcefake.Options{})
	srv := httptest.NewServer(fake)
	b.Cleanup(func() { srv.Close(); fake.Close() })
	if err := fake.CreateGroup(gcefake.GroupSpec{
		Project: testProject, Name: testGroup, Zone: testZone, TargetSize: forwarders,
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.0.0/16"}, {Network: "vpc-b", Subnet: "10.100.0.0/16"}},
	}); err != nil {
		b.Fatal(err)
	}
	insts := waitRunning(b, fake, forwarders)
	ranges := make([]string, routesEach)
	for i := range ranges {
		ranges[i] = fmt.Sprintf("10.19.%d.0/24", i)
	}
	for _, in := range insts {
		for _, r := range ranges {
			insertDirect(b, fake, in, r)
		}
	}
	agents := newAgentFarm(insts, ranges)
	b.Cleanup(agents.srv.Close)

	clients, err := gce.NewClients(context.Background(), gce.ClientOptions{Endpoint: srv.URL + "/", CallTimeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = clients.Close() })
	half := 0.5
	cfg := config.Reconciler{
		Project: testProject, RoutePrefix: testPrefix,
		Groups: []config.Group{{Name: testGroup, Zone: testZone}},
		Allow:  []config.Allow{{Network: "vpc-a", DestRanges: []string{"10.19.0.0/16"}, Priority: config.PriorityRange{Min: 0, Max: 65535}, PrefixLength: &config.LengthRange{Min: 16, Max: 24}}},
		Probe: config.Probe{Path: "/readyz", Interval: config.Duration{Duration: time.Second},
			Timeout: config.Duration{Duration: 800 * time.Millisecond}, Failures: 3, Successes: 2},
		MinHealthyFraction: &half, BootGrace: config.Duration{Duration: time.Second},
		Interval: config.Duration{Duration: time.Hour},
	}
	r, err := New(Options{Config: cfg, API: API{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups},
		ForwarderURL: agents.url, Prober: alwaysReady{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go func() { _ = r.monitor.Run(ctx) }()
	// Warm up: every forwarder Healthy and its /status cached.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep, err := r.Pass(ctx)
		if err != nil {
			b.Fatal(err)
		}
		healthy := 0
		for _, f := range rep.Decision.Forwarders {
			if f.State == "healthy" {
				healthy++
			}
		}
		if healthy == forwarders && len(rep.Decision.Actions) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("warm-up: %d of %d healthy, %d actions", healthy, forwarders, len(rep.Decision.Actions))
		}
		time.Sleep(200 * time.Millisecond)
	}
	fetchesBefore := agents.statusReads()
	fake.ResetRequestCounts()
	b.ReportAllocs()
	b.ResetTimer()
	passes := 0
	for b.Loop() {
		if _, err := r.Pass(ctx); err != nil {
			b.Fatal(err)
		}
		passes++
	}
	b.StopTimer()
	counts := fake.RequestCounts()
	var total int64
	for _, n := range counts {
		total += n
	}
	if m := counts["routes.insert"] + counts["routes.delete"]; m != 0 {
		b.Fatalf("steady state issued %d mutating calls: %v", m, counts)
	}
	b.ReportMetric(float64(total)/float64(passes), "api-requests/pass")
	b.ReportMetric(float64(agents.statusReads()-fetchesBefore)/float64(passes), "status-reads/pass")
	b.ReportMetric(rssMiB(), "rss-MiB")
	b.Logf("requests over %d passes: %v", passes, counts)
}

func waitRunning(b *testing.B, fake *gcefake.Server, n int) []gcefake.Instance {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var out []gcefake.Instance
		for _, in := range fake.Instances() {
			if in.Status == gcefake.StatusRunning {
				out = append(out, in)
			}
		}
		if len(out) == n {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("group never reached %d RUNNING instances", n)
	return nil
}

// insertDirect inserts an owned route through the fake's handler without a
// network round trip (setup only; the measured passes use real HTTP).
func insertDirect(b *testing.B, fake *gcefake.Server, in gcefake.Instance, dest string) {
	name := naming.RouteName(testPrefix, instanceid.ID(in.ID), testProject, "vpc-a", dest)
	body, _ := json.Marshal(map[string]any{
		"name": name, "network": "global/networks/vpc-a", "destRange": dest, "priority": 900,
		"nextHopInstance": "projects/" + testProject + "/zones/" + in.Zone + "/instances/" + in.Name,
		"description":     naming.Marker{Instance: in.Name, Zone: in.Zone, Group: testGroup, Agent: "bench"}.Description(),
	})
	req := httptest.NewRequest(http.MethodPost, "/compute/v1/projects/"+testProject+"/global/routes", strings.NewReader(string(body)))
	rec := httptest.NewRecorder()
	fake.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("insert %s: %d %s", name, rec.Code, rec.Body.String())
	}
}

// agentFarm is one HTTP server standing in for every forwarder's agent:
// /<instance id>/readyz and /<instance id>/status.
type agentFarm struct {
	srv      *httptest.Server
	statuses map[string][]byte
	mu       sync.Mutex
	reads    int
}

func newAgentFarm(insts []gcefake.Instance, ranges []string) *agentFarm {
	f := &agentFarm{statuses: map[string][]byte{}}
	for _, in := range insts {
		id := instanceid.ID(in.ID)
		st := agentapi.Status{Instance: agentapi.Instance{Name: in.Name, ID: id, Zone: in.Zone, Project: testProject}, Ready: true}
		for _, r := range ranges {
			st.Routes = append(st.Routes, agentapi.Route{Name: naming.RouteName(testPrefix, instanceid.ID(in.ID), testProject, "vpc-a", r),
				Project: testProject, Network: "vpc-a", DestRange: r, Priority: 900})
		}
		f.statuses[id.String()], _ = json.Marshal(st)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, what, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch what {
		case "readyz":
			_, _ = w.Write([]byte("ok"))
		case "status":
			f.mu.Lock()
			f.reads++
			f.mu.Unlock()
			_, _ = w.Write(f.statuses[id])
		default:
			http.NotFound(w, r)
		}
	}))
	return f
}

func (f *agentFarm) url(inst gce.Instance) string {
	return f.srv.URL + "/" + inst.ID.String()
}

func (f *agentFarm) statusReads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// alwaysReady answers every probe in-process: the benchmark measures the
// pass, not 1,000 probes a second competing for the same CPUs (the health
// package benchmarks probing).
type alwaysReady struct{}

func (alwaysReady) Probe(context.Context, string) error { return nil }

// rssMiB is this process's resident set size from /proc/self/status.
func rssMiB() float64 {
	file, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}
