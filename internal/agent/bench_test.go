package agent

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// BenchmarkAnnounce measures an agent's start until every route is DONE
// (and READY) against the fake with zero operation latency, the real
// Compute client over HTTP and the real keeper in a namespace. Setup (the
// namespaces, the fake) is outside the timer. Target: ≤ 1 s.
func BenchmarkAnnounce(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b, gcefake.Options{})
		inst := e.createInstance("fwd-1", testConfig)
		a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- a.Run(ctx) }()
		for !a.Ready() {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		if n := len(e.liveRouteNames()); n != 3 {
			b.Fatalf("%d routes when ready, want 3", n)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkAgentProcess runs the real binary and reports its time from
// exec to READY=1 and its VmRSS after 2 s idle (target ≤ 30 MB).
func BenchmarkAgentProcess(b *testing.B) {
	vpclinkBinary(b) // build outside the measurement
	var rssKB, readySec float64
	for b.Loop() {
		b.StopTimer()
		p := newProcEnv(b, gcefake.Options{})
		started := time.Now()
		ap := p.startAgent(b)
		ap.waitReady(b, 20*time.Second)
		readySec += time.Since(started).Seconds()
		time.Sleep(2 * time.Second)
		rssKB += float64(vmRSS(b, ap.cmd.Process.Pid))
		_ = ap.cmd.Process.Signal(syscall.SIGTERM)
		if code := ap.exit(b, 25*time.Second); code != 0 {
			b.Fatalf("exit %d", code)
		}
		b.StartTimer()
	}
	b.ReportMetric(rssKB/float64(b.N)/1024, "MB-rss-idle")
	b.ReportMetric(readySec/float64(b.N), "s-exec-to-ready")
}
