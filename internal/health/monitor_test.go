package health

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// startMonitor runs a monitor until the test ends.
func startMonitor(t *testing.T, cfg Config, targets ...Target) (*Monitor, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMonitor(cfg, NewHTTPProber(cfg.Timeout), reg, nil)
	m.SetTargets(targets)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return m, reg
}

// nextChange waits for the next change on m, generously.
func nextChange(t *testing.T, m *Monitor) Change {
	t.Helper()
	select {
	case c := <-m.Changes():
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no verdict change")
	}
	return Change{}
}

func render(c Change) string { return fmt.Sprintf("%s %s->%s", c.Key, c.From, c.To) }

// TestThresholdsAndHysteresis plays a script of answers to a real server and
// checks the exact sequence of verdict changes. The timeout is far above the
// interval so that a slow machine cannot turn a 200 into a timeout; the
// monitor then skips the slots a probe overran.
func TestThresholdsAndHysteresis(t *testing.T) {
	srv := newSwitchServer(t, answerOK)
	S, F := answerOK, answer503
	drained := srv.play(
		S, F, S, F, F, F, // alternating keeps Starting; then 3 failures: unhealthy
		S, F, S, S, // one success is not enough, a failure resets; 2 in a row: healthy
		F, F, S, F, F, F, // 2 failures are not enough, a success resets; 3 in a row: unhealthy
	)
	m, reg := startMonitor(t, Config{Interval: 5 * time.Millisecond, Timeout: 5 * time.Second, Failures: 3, Successes: 2},
		Target{Key: "fwd-1", URL: srv.URL + "/readyz"})

	var got []string
	var changes []Change
	for range 3 {
		c := nextChange(t, m)
		got = append(got, render(c))
		changes = append(changes, c)
	}
	want := "fwd-1 starting->unhealthy, fwd-1 unhealthy->healthy, fwd-1 healthy->unhealthy"
	if strings.Join(got, ", ") != want {
		t.Fatalf("changes\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
	<-drained
	for _, c := range changes {
		if (c.To == Unhealthy) != strings.Contains(c.Err, "status 503") {
			t.Errorf("change %s carries err %q", render(c), c.Err)
		}
		if c.At.IsZero() {
			t.Errorf("change %s has no time", render(c))
		}
	}
	// The last answer (503) repeats: no further change, counts go on.
	eventually(t, "more failures", func() bool { return m.States()["fwd-1"].ConsecutiveFailures >= 5 })
	select {
	case c := <-m.Changes():
		t.Errorf("unexpected change %s", render(c))
	default:
	}
	st := m.States()["fwd-1"]
	if st.Verdict != Unhealthy || !st.EverSucceeded || st.ConsecutiveSuccesses != 0 || !st.LastChange.Equal(changes[2].At) {
		t.Errorf("final state %+v", st)
	}
	if n := counterValue(t, reg, "vpclink_probe_failures_total", "reason", "status"); n < 9 {
		t.Errorf("vpclink_probe_failures_total{reason=status} = %v, want >= 9", n)
	}
	if n := counterValue(t, reg, "vpclink_probe_duration_seconds", "result", "ok"); n != 6 {
		t.Errorf("vpclink_probe_duration_seconds{result=ok} count = %v, want 6", n)
	}
	if n := counterValue(t, reg, "vpclink_probe_targets", "verdict", "unhealthy"); n != 1 {
		t.Errorf("vpclink_probe_targets{verdict=unhealthy} = %v, want 1", n)
	}
}

// TestTimeoutAndClosedPort: a server that hangs past the timeout and a port
// nobody listens on are both failures, with reasons in the metric; the
// hanging target recovers when the server answers again.
func TestTimeoutAndClosedPort(t *testing.T) {
	hang := newSwitchServer(t, answerHang)
	closed := closedPortURL(t)
	// A timeout of 10 ms classed a slow refusal as a timeout on a busy
	// machine; 100 ms leaves the refusals refused and costs the hang 0.2 s.
	m, reg := startMonitor(t, Config{Interval: 20 * time.Millisecond, Timeout: 100 * time.Millisecond, Failures: 2, Successes: 1},
		Target{Key: "hang", URL: hang.URL + "/readyz"}, Target{Key: "closed", URL: closed})

	unhealthy := map[string]Change{}
	for len(unhealthy) < 2 {
		c := nextChange(t, m)
		if c.From != Starting || c.To != Unhealthy {
			t.Fatalf("unexpected change %s", render(c))
		}
		unhealthy[c.Key] = c
	}
	if e := unhealthy["hang"].Err; !strings.Contains(strings.ToLower(e), "timeout") && !strings.Contains(e, "deadline exceeded") {
		t.Errorf("hang: err %q does not say timeout", e)
	}
	if e := unhealthy["closed"].Err; !strings.Contains(e, "connection refused") {
		t.Errorf("closed: err %q does not say refused", e)
	}
	if n := counterValue(t, reg, "vpclink_probe_failures_total", "reason", "timeout"); n < 2 {
		t.Errorf("timeout failures %v, want >= 2", n)
	}
	if n := counterValue(t, reg, "vpclink_probe_failures_total", "reason", "refused"); n < 2 {
		t.Errorf("refused failures %v, want >= 2", n)
	}

	hang.set(answerOK)
	c := nextChange(t, m)
	if render(c) != "hang unhealthy->healthy" {
		t.Errorf("after the server answers: %s", render(c))
	}
	if st := m.States()["closed"]; st.Verdict != Unhealthy || st.EverSucceeded {
		t.Errorf("closed port state %+v", st)
	}
}

// TestSetTargetsKeepsCounters: re-listing a target with the same URL keeps
// its state; removing it forgets it; a new URL starts over.
func TestSetTargetsKeepsCounters(t *testing.T) {
	a := newSwitchServer(t, answerOK)
	b := newSwitchServer(t, answerOK)
	ta := Target{Key: "fwd-a", URL: a.URL + "/readyz"}
	tb := Target{Key: "fwd-b", URL: b.URL + "/readyz"}
	m, reg := startMonitor(t, Config{Interval: 10 * time.Millisecond, Timeout: 5 * time.Second, Failures: 3, Successes: 2}, ta)

	if c := nextChange(t, m); render(c) != "fwd-a starting->healthy" {
		t.Fatalf("first change %s", render(c))
	}
	eventually(t, "fwd-a to count 4 successes", func() bool { return m.States()["fwd-a"].ConsecutiveSuccesses >= 4 })
	before := m.States()["fwd-a"]

	m.SetTargets([]Target{tb, ta}) // add b, keep a
	after := m.States()["fwd-a"]
	if after.Verdict != Healthy || after.ConsecutiveSuccesses < before.ConsecutiveSuccesses || !after.LastChange.Equal(before.LastChange) {
		t.Errorf("fwd-a lost its state when fwd-b was added:\nbefore %+v\nafter  %+v", before, after)
	}
	if st, ok := m.States()["fwd-b"]; !ok || st.Verdict != Starting && st.Verdict != Healthy {
		t.Errorf("fwd-b not added: %+v %v", st, ok)
	}
	if c := nextChange(t, m); render(c) != "fwd-b starting->healthy" {
		t.Errorf("expected fwd-b to become healthy, got %s", render(c))
	}

	m.SetTargets([]Target{tb}) // remove a
	if _, ok := m.States()["fwd-a"]; ok {
		t.Error("fwd-a still listed after removal")
	}
	requests := a.requests.Load()
	time.Sleep(50 * time.Millisecond)           // several intervals
	if n := a.requests.Load(); n > requests+1 { // at most the probe in flight at removal
		t.Errorf("fwd-a still probed after removal: %d more requests", n-requests)
	}

	// The same key at a new address is a new incarnation: it starts over.
	a.set(answer503)
	m.SetTargets([]Target{tb, {Key: "fwd-b-moved", URL: b.URL + "/readyz"}, {Key: "fwd-a", URL: a.URL + "/other"}})
	if st := m.States()["fwd-a"]; st.Verdict != Starting || st.EverSucceeded || st.ConsecutiveSuccesses != 0 {
		t.Errorf("fwd-a at a new URL kept old state: %+v", st)
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		seen[render(nextChange(t, m))] = true
	}
	if !seen["fwd-a starting->unhealthy"] || !seen["fwd-b-moved starting->healthy"] {
		t.Errorf("changes after re-adding: %v", seen)
	}
	if st := m.States()["fwd-b"]; st.Verdict != Healthy {
		t.Errorf("fwd-b disturbed: %+v", st)
	}
	if n := counterValue(t, reg, "vpclink_probe_targets", "verdict", "healthy"); n != 2 {
		t.Errorf("vpclink_probe_targets{verdict=healthy} = %v, want 2", n)
	}
}

func TestRunTwiceIsAnError(t *testing.T) {
	srv := newSwitchServer(t, answerOK)
	m, _ := startMonitor(t, Config{Interval: 10 * time.Millisecond, Timeout: time.Second}, Target{Key: "k", URL: srv.URL})
	eventually(t, "a probe", func() bool { return srv.requests.Load() > 0 })
	if err := m.Run(context.Background()); err == nil {
		t.Error("second concurrent Run returned nil")
	}
}

// countingProber is the real HTTP prober plus counts of the probes started
// and of those still running, kept on the monitor's side: the server sees a
// probe cancelled by Run's return whenever its handler gets to it, which may
// be after Run returned.
type countingProber struct {
	Prober
	started, running atomic.Int64
}

func (p *countingProber) Probe(ctx context.Context, url string) error {
	p.started.Add(1)
	p.running.Add(1)
	defer p.running.Add(-1)
	return p.Prober.Probe(ctx, url)
}

// TestRunStopsProbing: after Run returns no probe is in flight or started.
func TestRunStopsProbing(t *testing.T) {
	srv := newSwitchServer(t, answerOK)
	p := &countingProber{Prober: NewHTTPProber(time.Second)}
	m := NewMonitor(Config{Interval: 5 * time.Millisecond, Timeout: time.Second}, p, nil, nil)
	m.SetTargets([]Target{{Key: "k", URL: srv.URL}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	eventually(t, "probes", func() bool { return srv.requests.Load() > 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r := p.running.Load(); r != 0 {
		t.Errorf("%d probes in flight after Run returned", r)
	}
	n := p.started.Load()
	time.Sleep(30 * time.Millisecond)
	if p.started.Load() != n {
		t.Error("probes continued after Run returned")
	}
	if st := m.States()["k"]; st.Verdict != Healthy {
		t.Errorf("state lost after Run: %+v", st)
	}
}

// A failing target this monitor has never seen answer (after a reconciler
// restart) is confirmed at the timeout's pace: Failures failures, each a
// full timeout, back to back, instead of one per interval. Refusals are not
// repeated faster than the timeout, and a target that answered before keeps
// the interval between the failures that judge it.
func TestUnknownFailingTargetsAreConfirmedAtTheTimeoutsPace(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out several probe intervals; runs in the full tier")
	}
	const interval, timeout = time.Second, 100 * time.Millisecond
	hung := newSwitchServer(t, answerHang)
	known := newSwitchServer(t, answerOK)
	m, _ := startMonitor(t, Config{Interval: interval, Timeout: timeout, Failures: 3, Successes: 2},
		Target{Key: "hung", URL: hung.URL + "/readyz"},
		Target{Key: "refused", URL: closedPortURL(t)},
		Target{Key: "known", URL: known.URL + "/readyz"})

	spans := map[string]time.Duration{}
	for len(spans) < 3 {
		c := nextChange(t, m)
		switch {
		case c.Key == "known" && c.To == Healthy:
			known.set(answerHang)
		case c.To == Unhealthy:
			streak := m.States()[c.Key].StreakStart
			spans[c.Key] = c.At.Sub(streak)
		}
	}
	// From the first failed probe's start to the deciding probe's start.
	for _, key := range []string{"hung", "refused"} {
		if d := spans[key]; d < 2*timeout || d >= interval {
			t.Errorf("%s: judged %s after its first failure, want between 2 timeouts (%s) and one interval (%s)", key, d, 2*timeout, interval)
		}
	}
	if d := spans["known"]; d < 2*interval-interval/10 {
		t.Errorf("known: judged %s after its first failure, want about 2 intervals (%s): it had answered before", d, 2*interval)
	}
}
