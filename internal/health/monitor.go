package health

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/logging"
)

// Target is one thing to probe.
type Target struct {
	Key string // stable identity, e.g. instance name and id
	URL string // e.g. http://<nic0 ip>:9780/readyz
	// Start is when the target last started (an instance's
	// lastStartTimestamp): a new Start is a boot, and the target starts over.
	Start time.Time
}

// Config sets the probe cadence and the thresholds. Zero fields take the
// defaults of DESIGN.md: 1s, 800ms, 3 failures, 2 successes.
type Config struct {
	Interval  time.Duration
	Timeout   time.Duration
	Failures  int
	Successes int
}

// ChangeBuffer is the capacity of the Changes channel: every target of a
// large group can change at once (the reconciler is cut off) without a drop.
const ChangeBuffer = 4096

// Monitor probes a changing set of targets and keeps a verdict for each.
type Monitor struct {
	cfg     Config
	prober  Prober
	log     *zap.Logger
	metrics *metrics
	changes chan Change

	mu      sync.Mutex
	targets map[string]*target
	runCtx  context.Context // set while Run runs; nil otherwise
	wg      sync.WaitGroup  // one per running probe loop

	maxLag atomic.Int64 // nanoseconds, the latest any probe started; read by the benchmark
}

// target is one probed target. url never changes: a new URL is a new target.
type target struct {
	key, url string
	start    time.Time
	state    State
	stop     context.CancelFunc // ends this target's probe loop; nil when not running
}

// NewMonitor returns a monitor with no targets. Metrics are registered on
// reg (nil: not registered); log may be nil.
func NewMonitor(cfg Config, p Prober, reg prometheus.Registerer, log *zap.Logger) *Monitor {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 800 * time.Millisecond
	}
	if cfg.Failures < 1 {
		cfg.Failures = 3
	}
	if cfg.Successes < 1 {
		cfg.Successes = 2
	}
	if log == nil {
		log = zap.NewNop()
	}
	m := &Monitor{
		cfg:     cfg,
		prober:  p,
		log:     log,
		metrics: newMetrics(reg),
		changes: make(chan Change, ChangeBuffer),
		targets: map[string]*target{},
	}
	return m
}

// SetTargets replaces the set of targets. A target whose key, URL and Start
// are unchanged keeps its state and its place in the probe schedule; a new
// key, or a known key with a new URL or a new Start (a reboot), starts at
// Starting; targets not listed are dropped. Of two entries with the same
// key the last wins. Safe to call at any time, before or during Run.
func (m *Monitor) SetTargets(ts []Target) {
	want := make(map[string]Target, len(ts))
	for _, t := range ts {
		want[t.Key] = t
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, t := range m.targets {
		if w, ok := want[key]; !ok || w.URL != t.url || !w.Start.Equal(t.start) {
			m.remove(t)
		}
	}
	for key, w := range want {
		if _, ok := m.targets[key]; ok {
			continue
		}
		t := &target{key: key, url: w.URL, start: w.Start}
		m.targets[key] = t
		m.metrics.targets.WithLabelValues(Starting.String()).Inc()
		if m.runCtx != nil {
			m.start(t)
		}
	}
}

// remove forgets t and stops its loop. Callers hold m.mu.
func (m *Monitor) remove(t *target) {
	if t.stop != nil {
		t.stop()
	}
	delete(m.targets, t.key)
	m.metrics.targets.WithLabelValues(t.state.Verdict.String()).Dec()
}

// start runs t's probe loop under the current Run. Callers hold m.mu.
func (m *Monitor) start(t *target) {
	ctx, stop := context.WithCancel(m.runCtx)
	t.stop = stop
	m.wg.Add(1)
	go m.probeLoop(ctx, t, m.spread())
}

// Run probes every target every Interval until ctx ends, then stops all
// probes and returns nil. It is an error to call Run while it runs.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.runCtx != nil {
		m.mu.Unlock()
		return errors.New("health monitor: Run called while already running")
	}
	m.runCtx = ctx
	for _, t := range m.targets {
		m.start(t)
	}
	m.mu.Unlock()

	<-ctx.Done()

	m.mu.Lock()
	m.runCtx = nil
	for _, t := range m.targets {
		t.stop()
		t.stop = nil
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// Changes delivers every verdict change, in order per target. See
// ChangeBuffer for what happens when nobody reads.
func (m *Monitor) Changes() <-chan Change { return m.changes }

// States returns a snapshot of every target's state by key.
func (m *Monitor) States() map[string]State {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]State, len(m.targets))
	for key, t := range m.targets {
		out[key] = t.state
	}
	return out
}

// probeLoop probes t on a fixed grid of slots, Interval apart, starting at a
// random offset within spread. A probe that overruns its slot skips the
// slots it covered rather than bunching up probes afterwards.
// spreadPerTarget is how far apart the first probes of new targets are
// spread, on average: enough that a thousand targets do not fire together,
// little enough that three are all probed within milliseconds of a start.
const spreadPerTarget = time.Millisecond

// spread is the window the first probe of a new target falls in: the
// interval, or less when there are few targets. Callers hold m.mu.
func (m *Monitor) spread() time.Duration {
	return max(min(m.cfg.Interval, time.Duration(len(m.targets))*spreadPerTarget), time.Nanosecond)
}

func (m *Monitor) probeLoop(ctx context.Context, t *target, spread time.Duration) {
	defer m.wg.Done()
	interval := m.cfg.Interval
	slot := time.Now().Add(rand.N(spread))
	timer := time.NewTimer(time.Until(slot))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		started := time.Now()
		m.noteLag(started.Sub(slot))
		m.probeOnce(ctx, t, started)
		now := time.Now()
		if m.confirming(t) {
			// Unknown and failing: the next probe goes out once this
			// one's timeout is over, not at the next slot.
			slot = started.Add(max(m.cfg.Timeout, time.Millisecond))
			timer.Reset(max(slot.Sub(now), 0))
			continue
		}
		for !slot.After(now) {
			slot = slot.Add(interval)
		}
		timer.Reset(slot.Sub(now))
	}
}

// confirming reports whether t is failing and this monitor has never seen
// it answer or judged it: a reconciler that has just started, or a
// forwarder that has just been added. Such a target is probed at the
// timeout's pace until the first verdict, so that a restarted reconciler
// loses no more to detection than the time it was down: the verdict still
// rests on Failures consecutive failures, each a full timeout without an
// answer, only closer together. Refusals (which return at once) are not
// repeated faster than the timeout. A target that has answered before, or
// has a verdict, keeps the interval: its failures are weighed as DESIGN.md
// times them.
func (m *Monitor) confirming(t *target) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := t.state
	return s.Verdict == Starting && !s.EverSucceeded && s.ConsecutiveFailures > 0 && m.cfg.Timeout < m.cfg.Interval
}

func (m *Monitor) noteLag(lag time.Duration) {
	if lag < 0 {
		lag = 0
	}
	m.metrics.lag.Observe(lag.Seconds())
	for {
		old := m.maxLag.Load()
		if int64(lag) <= old || m.maxLag.CompareAndSwap(old, int64(lag)) {
			return
		}
	}
}

// probeOnce makes one probe of t and records it, unless the probe was cut
// short by ctx (t removed or Run ending): that says nothing about t.
func (m *Monitor) probeOnce(ctx context.Context, t *target, started time.Time) {
	pctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	err := m.prober.Probe(pctx, t.url)
	cancel()
	took := time.Since(started)
	if ctx.Err() != nil {
		return
	}
	if ev, _ := Classify(err); ev == Failed {
		m.metrics.failures.WithLabelValues(failureReason(err)).Inc()
		m.metrics.duration.WithLabelValues("fail").Observe(took.Seconds())
	} else {
		m.metrics.duration.WithLabelValues("ok").Observe(took.Seconds())
	}

	m.mu.Lock()
	if m.targets[t.key] != t { // removed or replaced while probing
		m.mu.Unlock()
		return
	}
	prev := t.state.Verdict
	next, changed := t.state.observe(err, started, m.cfg.Failures, m.cfg.Successes)
	t.state = next
	if changed {
		m.metrics.targets.WithLabelValues(prev.String()).Dec()
		m.metrics.targets.WithLabelValues(next.Verdict.String()).Inc()
	}
	m.mu.Unlock()
	if !changed {
		return
	}

	c := Change{Key: t.key, From: prev, To: next.Verdict, At: started, Decided: time.Now(),
		Failures: next.ConsecutiveFailures, Successes: next.ConsecutiveSuccesses}
	if next.Verdict == Unhealthy {
		c.Err = next.LastError
	}
	// The consumer logs the change: it knows what the key stands for.
	select {
	case m.changes <- c:
	default:
		m.metrics.dropped.Inc()
		m.log.Warn("probe verdict change dropped: Changes channel full",
			logging.Op("probe"), logging.Target(t.key), logging.To(next.Verdict.String()))
	}
}
