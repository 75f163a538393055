package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// benchServerEnv makes the test binary, run as a child, serve the benchmark's
// forwarders instead of running tests: the child's CPU then stays out of the
// figures measured in the parent.
const benchServerEnv = "VPCLINK_HEALTH_BENCH_LISTENERS"

func TestMain(m *testing.M) {
	if n := os.Getenv(benchServerEnv); n != "" {
		var listeners int
		fmt.Sscan(n, &listeners)
		serveBenchForwarders(listeners)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveBenchForwarders listens on n loopback addresses (127.0.x.y: one per
// simulated forwarder, so each has its own keep-alive connection like real
// nic0 addresses), prints them, answers 200 on every path and exits when
// stdin closes.
func serveBenchForwarders(n int) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ready\n"))
	})}
	out := bufio.NewWriter(os.Stdout)
	for i := range n {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.%d.%d:0", 1+i/250, 1+i%250))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() { _ = srv.Serve(l) }()
		fmt.Fprintln(out, l.Addr())
	}
	fmt.Fprintln(out, "READY")
	_ = out.Flush()
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startBenchForwarders runs the child server and returns its addresses.
func startBenchForwarders(b *testing.B, listeners int) []string {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", benchServerEnv, listeners))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close() // the child exits on EOF
		_ = cmd.Wait()
	})
	var addrs []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "READY" {
		addrs = append(addrs, sc.Text())
	}
	if len(addrs) != listeners {
		b.Fatalf("bench server gave %d addresses, want %d", len(addrs), listeners)
	}
	return addrs
}

// timedProber is the real HTTP prober plus a record of the slowest probe.
type timedProber struct {
	Prober
	max atomic.Int64
}

func (p *timedProber) Probe(ctx context.Context, url string) error {
	start := time.Now()
	err := p.Prober.Probe(ctx, url)
	d := int64(time.Since(start))
	for old := p.max.Load(); d > old && !p.max.CompareAndSwap(old, d); old = p.max.Load() {
	}
	return err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMonitor1000Targets runs the monitor against 1,000 forwarders at
// the production cadence (1s interval, 800ms timeout). One op is one round
// (one interval of wall time), so ns/op is ~1e9 by construction; the
// figures that matter are the custom metrics:
//
//	cpu-ms/round  CPU of this process (the monitor; the servers run in a child)
//	max-lag-ms    the latest any probe started against its slot
//	max-probe-ms  the slowest probe
//	probes/round  should be 1000: every target probed once per interval
//	failed        failed probes while measuring: should be 0
//
// allocs/op is allocations per round in this process. A round keeps up with
// the interval when max-lag-ms + max-probe-ms stays well under 1000.
// Run with: go test -run '^$' -bench Monitor1000 -benchtime 5x ./internal/health
func BenchmarkMonitor1000Targets(b *testing.B) {
	for _, hosts := range []int{1000, 1} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) { benchMonitor(b, 1000, hosts) })
	}
}

func benchMonitor(b *testing.B, targets, hosts int) {
	addrs := startBenchForwarders(b, hosts)
	ts := make([]Target, targets)
	for i := range ts {
		ts[i] = Target{Key: fmt.Sprintf("fwd-%d", i), URL: fmt.Sprintf("http://%s/readyz?t=%d", addrs[i%hosts], i)}
	}
	cfg := Config{Interval: time.Second, Timeout: 800 * time.Millisecond, Failures: 3, Successes: 2}
	prober := &timedProber{Prober: NewHTTPProber(cfg.Timeout)}
	reg := prometheus.NewRegistry()
	m := NewMonitor(cfg, prober, reg, nil)
	m.SetTargets(ts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Warm up: connections dialled, every target Healthy (two rounds).
	deadline := time.Now().Add(30 * time.Second)
	for countVerdict(m, Healthy) < targets {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d targets healthy after warm-up", countVerdict(m, Healthy), targets)
		}
		time.Sleep(100 * time.Millisecond)
	}
	probesBefore := probeCount(b, reg)
	failedBefore := failedCount(b, reg)
	m.maxLag.Store(0)
	prober.max.Store(0)
	cpuBefore := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	time.Sleep(time.Duration(b.N) * cfg.Interval)
	b.StopTimer()
	cpu := cpuTime() - cpuBefore
	rounds := float64(b.N)
	b.ReportMetric(float64(cpu.Milliseconds())/rounds, "cpu-ms/round")
	b.ReportMetric(float64(time.Duration(m.maxLag.Load()).Microseconds())/1000, "max-lag-ms")
	b.ReportMetric(float64(time.Duration(prober.max.Load()).Microseconds())/1000, "max-probe-ms")
	b.ReportMetric((probeCount(b, reg)-probesBefore)/rounds, "probes/round")
	b.ReportMetric(failedCount(b, reg)-failedBefore, "failed")
}

func countVerdict(m *Monitor, v Verdict) int {
	n := 0
	for _, s := range m.States() {
		if s.Verdict == v {
			n++
		}
	}
	return n
}

func probeCount(b *testing.B, reg *prometheus.Registry) float64 {
	return gatherSum(b, reg, "vpclink_probe_duration_seconds")
}

func failedCount(b *testing.B, reg *prometheus.Registry) float64 {
	return gatherSum(b, reg, "vpclink_probe_failures_total")
}

// gatherSum adds up a counter family or a histogram family's sample counts.
func gatherSum(b *testing.B, reg *prometheus.Registry, name string) float64 {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				sum += float64(h.GetSampleCount())
			} else {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// BenchmarkHTTPProbe is the cost of one probe over a kept-alive connection,
// server in the same process.
func BenchmarkHTTPProbe(b *testing.B) {
	srv := newSwitchServer(b, answerOK)
	p := NewHTTPProber(time.Second)
	url := srv.URL + "/readyz"
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Probe(context.Background(), url); err != nil {
			b.Fatal(err)
		}
	}
}
