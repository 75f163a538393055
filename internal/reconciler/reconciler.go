// Package reconciler runs vpclink's central control loop: it probes every
// forwarder of the configured groups, prunes the routes of dead or replaced
// ones, restores the routes healthy ones ask for, and fails static when too
// few look healthy (DESIGN.md invariants 1, 3, 5–8). The decisions are
// internal/routeplan's; this package gathers their inputs and applies them.
//
// Choices DESIGN.md leaves open, recorded here:
//
//   - A pass reads with list calls only (see Gather) and aborts on any read
//     error: no action is taken on a partial picture. It is retried at the
//     next tick or verdict change.
//   - Passes run one at a time. A verdict change triggers a pass at once;
//     triggers that arrive during a pass coalesce into one more pass. A full
//     pass also runs every config interval.
//   - Probe targets are keyed by instance id, so a recreated VM (same name,
//     same address, new id) starts over at Starting.
//   - /status of a Healthy forwarder is read when the pass has none cached
//     (first time Healthy, after a verdict change, after StatusTTL), and again
//     right before the pass inserts anything for it: a restore is always
//     decided on a fresh answer, so a forwarder that began draining a moment
//     ago is not given its routes back from a stale copy.
//   - Prunes never wait for restores: inserts and deletes run in one wave,
//     except the delete of a stale incarnation's route that routeplan
//     ordered after the new incarnation's insert.
//   - detection-to-prune is measured from the first failed probe of the
//     streak, taken as LastFailure - (ConsecutiveFailures-1) × probe
//     interval (the monitor keeps only the latest failure time), to the
//     delete's DONE.
package reconciler

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/health"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// Options configures a Reconciler. Config must have its defaults applied.
type Options struct {
	Config config.Reconciler
	API    API
	// ForwarderURL returns the base URL (scheme://host:port) of a
	// forwarder's agent; probes GET base+probe.path and restores read
	// base+"/status". Default: http://<nic0 address>:<probe.port>.
	// Tests map instances to local servers with it.
	ForwarderURL func(gce.Instance) string
	// Prober makes the probes; default health.NewHTTPProber(probe.timeout).
	Prober health.Prober
	// HTTPClient reads agents' /status; default a client without proxy.
	HTTPClient *http.Client
	// Registerer receives the reconciler's and the monitor's metrics; nil
	// registers nothing.
	Registerer prometheus.Registerer
	Log        *zap.Logger
	// Writer is the agent= value of restored routes' markers.
	Writer string
	// Concurrency caps route operations and /status reads in flight (8).
	Concurrency int
	// CallTimeout bounds each route operation, its wait for DONE included (60s).
	CallTimeout time.Duration
	// StatusTimeout bounds each /status read (default probe timeout).
	StatusTimeout time.Duration
	// StatusTTL is how long a cached /status is used to look for missing
	// routes before it is read again (5m).
	StatusTTL time.Duration
}

// Reconciler is the loop. Pass, Run and Handler may be used concurrently.
type Reconciler struct {
	opts    Options
	cfg     config.Reconciler
	api     API
	log     *zap.Logger
	monitor *health.Monitor
	metrics *metrics
	cache   *statusCache

	passMu     sync.Mutex // one pass at a time; guards failStatic
	failStatic routeplan.FailStatic

	mu   sync.Mutex
	last Report
}

// New builds a Reconciler and its health monitor.
func New(o Options) (*Reconciler, error) {
	if o.API.Routes == nil || o.API.Instances == nil || o.API.Groups == nil {
		return nil, errors.New("reconciler: Options.API needs Routes, Instances and Groups")
	}
	cfg := o.Config
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 60 * time.Second
	}
	if o.StatusTimeout <= 0 {
		o.StatusTimeout = cfg.Probe.Timeout.Duration
	}
	if o.StatusTimeout <= 0 {
		o.StatusTimeout = time.Second
	}
	if o.StatusTTL <= 0 {
		o.StatusTTL = 5 * time.Minute
	}
	if o.ForwarderURL == nil {
		port := strconv.Itoa(cfg.Probe.Port)
		o.ForwarderURL = func(inst gce.Instance) string {
			return "http://" + net.JoinHostPort(nic0(inst), port)
		}
	}
	if o.Prober == nil {
		o.Prober = health.NewHTTPProber(cfg.Probe.Timeout.Duration)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}}
	}
	mon := health.NewMonitor(health.Config{
		Interval:  cfg.Probe.Interval.Duration,
		Timeout:   cfg.Probe.Timeout.Duration,
		Failures:  cfg.Probe.Failures,
		Successes: cfg.Probe.Successes,
	}, o.Prober, o.Registerer, o.Log.With(logging.Component("health")))
	return &Reconciler{
		opts: o, cfg: cfg, api: o.API, log: o.Log, monitor: mon,
		metrics: newMetrics(o.Registerer), cache: newStatusCache(o.StatusTTL),
	}, nil
}

func nic0(inst gce.Instance) string {
	for _, n := range inst.NICs {
		if n.Index == 0 {
			return n.IP
		}
	}
	return ""
}

// Run probes and reconciles until ctx ends: a pass at start, on every
// verdict change, and every config interval. It returns nil when ctx ends;
// pass errors are logged and counted, never returned.
func (r *Reconciler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := r.monitor.Run(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("health monitor stopped", logging.Err(err))
		}
	}()
	trigger := make(chan struct{}, 1)
	go func() {
		defer wg.Done()
		r.watchVerdicts(ctx, trigger)
	}()
	interval := r.cfg.Interval.Duration
	if interval <= 0 {
		interval = 10 * time.Second
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		_, _ = r.Pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-trigger:
		}
	}
}

// watchVerdicts turns verdict changes into passes. A change invalidates
// the forwarder's cached /status, so a forwarder back to Healthy is asked
// afresh what it wants.
func (r *Reconciler) watchVerdicts(ctx context.Context, trigger chan<- struct{}) {
	changes := r.monitor.Changes()
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				return
			}
			id, err := instanceid.Parse(c.Key)
			if err == nil {
				r.cache.forget(id)
			}
			r.log.Info("forwarder verdict changed", logging.Op("probe"), logging.InstanceID(id),
				logging.From(c.From.String()), logging.To(c.To.String()), logging.ErrText(c.Err),
				logging.Failures(c.Failures), logging.Successes(c.Successes))
			select {
			case trigger <- struct{}{}:
			default: // a pass is already due
			}
		}
	}
}

// planInputs is a pass's snapshot turned into routeplan input, plus what
// the pass needs to act on the plan.
type planInputs struct {
	in routeplan.Input
	// states are the monitor's, keyed by instance id: the monitor's string
	// keys are converted here, once.
	states   map[instanceid.ID]health.State
	byID     map[instanceid.ID]gce.Instance
	statusOf map[instanceid.ID]statusTarget
}

// prepare feeds the monitor the snapshot's forwarders and assembles the
// plan input from the monitor's states and the /status cache, reading
// /status of Healthy forwarders that have none cached.
func (r *Reconciler) prepare(ctx context.Context, snap Snapshot, now time.Time) planInputs {
	pi := planInputs{
		byID:     make(map[instanceid.ID]gce.Instance, len(snap.Instances)),
		statusOf: map[instanceid.ID]statusTarget{},
	}
	members := map[string]bool{}
	for _, m := range snap.Members {
		members[m.Managed.Zone+"/"+m.Managed.Name] = true
	}
	var targets []health.Target
	live := map[instanceid.ID]bool{}
	for _, inst := range snap.Instances {
		pi.byID[inst.ID] = inst
		if !members[inst.Zone+"/"+inst.Name] || inst.Status != "RUNNING" || nic0(inst) == "" {
			continue
		}
		base := r.opts.ForwarderURL(inst)
		key := inst.ID.String()
		targets = append(targets, health.Target{Key: key, URL: base + r.cfg.Probe.Path})
		pi.statusOf[inst.ID] = statusTarget{id: inst.ID, name: inst.Name, url: base + "/status"}
		live[inst.ID] = true
	}
	r.monitor.SetTargets(targets)
	r.cache.keep(live)

	pi.states = statesByID(r.monitor.States())
	probes := make(map[instanceid.ID]routeplan.Probe, len(pi.states))
	var missing []statusTarget
	wanted := map[instanceid.ID]agentapi.Status{}
	for id, s := range pi.states {
		probes[id] = probeOf(s)
		if s.Verdict != health.Healthy {
			continue
		}
		if st, ok := r.cache.get(id, now); ok {
			wanted[id] = st
		} else if t, ok := pi.statusOf[id]; ok {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		r.fetchStatuses(ctx, missing)
		for _, t := range missing {
			if st, ok := r.cache.get(t.id, time.Now()); ok {
				wanted[t.id] = st
			}
		}
	}
	pi.in = routeplan.Input{
		Config: r.cfg, Now: now, Writer: r.opts.Writer,
		Members: snap.Members, Instances: snap.Instances, Routes: snap.Routes,
		Probes: probes, Wanted: wanted,
	}
	return pi
}

// statesByID converts the monitor's keys, which the reconciler sets to
// instance ids (prepare), back to ids.
func statesByID(states map[string]health.State) map[instanceid.ID]health.State {
	out := make(map[instanceid.ID]health.State, len(states))
	for key, s := range states {
		if id, err := instanceid.Parse(key); err == nil {
			out[id] = s
		}
	}
	return out
}

func probeOf(s health.State) routeplan.Probe {
	v := routeplan.Starting
	switch s.Verdict {
	case health.Healthy:
		v = routeplan.Healthy
	case health.Unhealthy:
		v = routeplan.Unhealthy
	}
	return routeplan.Probe{Verdict: v, ConsecutiveFailures: s.ConsecutiveFailures, EverSucceeded: s.EverSucceeded, EverHealthy: s.EverHealthy}
}
