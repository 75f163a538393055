package reconciler

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/health"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// BenchmarkPruneIssued1000 measures verdict → delete issued (the
// vpclink_detection_to_delete_issued_seconds histogram) with 1,000
// forwarders of 10 routes each and 10 s operations: 50 forwarders' routes
// are being restored (500 inserts of 10 s, 8 at a time: over a minute of
// inserts in flight) when 30 forwarders stop answering, 100 ms apart. It
// reports the p99 as the upper bound of its histogram bucket, and fails
// when that is above 100 ms. One scenario per run: use -benchtime 1x.
func BenchmarkPruneIssued1000(b *testing.B) {
	const forwarders, routesEach, restored, dead = 1000, 10, 50, 30
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
	for _, in := range insts[restored:] {
		for _, r := range ranges {
			insertDirect(b, fake, in, r)
		}
	}
	fake.SetOpLatency(gcefake.AllMethods, gcefake.Fixed(10*time.Second))
	agents := newAgentFarm(insts, ranges)
	b.Cleanup(agents.srv.Close)
	clients, err := gce.NewClients(context.Background(), gce.ClientOptions{Endpoint: srv.URL + "/", CallTimeout: 60 * time.Second})
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
		Interval: config.Duration{Duration: 10 * time.Second},
	}
	prober := &deadSet{dead: map[string]bool{}}
	reg := prometheus.NewRegistry()
	r, err := New(Options{Config: cfg, API: API{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups},
		ForwarderURL: agents.url, Prober: prober, Registerer: reg, Log: benchLog(b)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })

	// Every forwarder Healthy and the restores under way.
	deadline := time.Now().Add(60 * time.Second)
	for {
		healthy := 0
		for _, s := range r.monitor.States() {
			if s.Verdict == health.Healthy {
				healthy++
			}
		}
		if healthy == forwarders && r.flights.inFlight(routeplan.OpInsert, anyRestore(r)) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("warm-up: %d of %d healthy", healthy, forwarders)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.ResetTimer()
	for i := range dead {
		inst := insts[restored+i]
		prober.kill(agents.srv.URL + "/" + fmt.Sprint(inst.ID) + cfg.Probe.Path)
		time.Sleep(100 * time.Millisecond)
	}
	want := uint64(dead * routesEach)
	for {
		h := histogram(b, reg, "vpclink_detection_to_delete_issued_seconds")
		if h.GetSampleCount() >= want {
			break
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			b.Fatalf("only %d of %d prunes issued", h.GetSampleCount(), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	h := histogram(b, reg, "vpclink_detection_to_delete_issued_seconds")
	p99 := -1.0
	for _, bk := range h.GetBucket() {
		if float64(bk.GetCumulativeCount()) >= 0.99*float64(h.GetSampleCount()) {
			p99 = bk.GetUpperBound()
			break
		}
	}
	b.ReportMetric(p99*1000, "p99_issue_ms")
	b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount())*1000, "mean_issue_ms")
	b.Logf("%d prunes issued while %d inserts were in flight or waiting; p99 <= %v ms", h.GetSampleCount(),
		r.flights.count(routeplan.OpInsert), p99*1000)
	if p99 < 0 || p99 > 0.1 {
		b.Fatalf("p99 verdict → delete issued above 100 ms (bucket %v s)", p99)
	}
}

// deadSet fails probes of the URLs it was told are dead, at once, as a
// refused connection does; the others succeed.
type deadSet struct {
	mu   sync.Mutex
	dead map[string]bool
}

func (d *deadSet) kill(url string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead[url] = true
}

func (d *deadSet) Probe(_ context.Context, url string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead[url] {
		return errors.New("connection refused")
	}
	return nil
}

func histogram(b *testing.B, reg *prometheus.Registry, name string) *dto.Histogram {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	return &dto.Histogram{}
}

// benchLog writes the reconciler's log to $VPCLINK_BENCH_LOG when set.
func benchLog(b *testing.B) *zap.Logger {
	path := os.Getenv("VPCLINK_BENCH_LOG")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return logging.NewTo(f, -1)
}

// anyRestore names one insert of the last pass, or "".
func anyRestore(r *Reconciler) string {
	for _, a := range r.LastReport().Decision.Actions {
		if a.Op == routeplan.OpInsert {
			return a.Route.Name
		}
	}
	return ""
}
