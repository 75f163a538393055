// Package reconciler runs vpclink's central control loop: it probes every
// forwarder of the configured groups, prunes the routes of dead or replaced
// ones, restores the routes healthy ones ask for, and holds a probe prune
// that no second vantage point corroborates (witnesses.go; DESIGN.md
// invariants 1, 3, 5–8). The decisions are
// internal/routeplan's; this package gathers their inputs and applies them.
//
// Choices DESIGN.md leaves open, recorded here (flights.go records how
// route operations run):
//
//   - A pass reads with list calls only (see Gather) and aborts on any read
//     error: no action is taken on a partial picture. It is retried at the
//     next tick or verdict change.
//   - Passes run one at a time, and none waits for the route operations it
//     issued. A verdict change other than to Unhealthy triggers a pass;
//     triggers that arrive during a pass coalesce into one more pass. A full
//     pass also runs every config interval.
//   - A verdict change to Unhealthy is acted on at once, and triggers no
//     pass of its own (the next tick or other change brings one):
//     the decision is computed again on the last snapshot the API gave and
//     the monitor's current states, and its probe prunes are issued. A
//     snapshot a few seconds old is safe for a delete, since route names
//     carry the instance id, and it spares the prune the reads: prunes of
//     routes already judged go on while reads are slow or failing.
//   - A pass issues its deletes before it reads any /status: restores need
//     fresh /status answers, prunes need none.
//   - Probe targets are keyed by instance id, so a recreated VM (same name,
//     same address, new id) starts over at Starting, and carry the
//     instance's lastStartTimestamp, so a restarted one does too.
//   - /status of a Healthy forwarder is read when the pass has none cached
//     (first time Healthy, after a verdict change, after StatusTTL), and again
//     right before the pass inserts anything for it: a restore is always
//     decided on a fresh answer, so a forwarder that began draining a moment
//     ago is not given its routes back from a stale copy.
//   - vpclink_detection_to_prune_seconds is measured from the first failed
//     probe of the streak (the monitor's StreakStart) to the delete's DONE;
//     vpclink_detection_to_delete_issued_seconds from the verdict change to
//     Unhealthy to the delete call.
package reconciler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

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
	// Redirects are never followed, whatever its CheckRedirect.
	HTTPClient *http.Client
	// Registerer receives the reconciler's and the monitor's metrics; nil
	// registers nothing.
	Registerer prometheus.Registerer
	Log        *zap.Logger
	// Writer is the agent= value of restored routes' markers.
	Writer string
	// Concurrency caps inserts and /status reads in flight (8).
	Concurrency int
	// DeleteConcurrency caps deletes in flight (1024): a prune must not wait
	// for a slot, and a delete costs the reconciler one goroutine.
	DeleteConcurrency int
	// RateLimitRetry is the mean pause between attempts of a delete that a
	// rate limit refused (1s, jittered by half).
	RateLimitRetry time.Duration
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

	flights *flights
	corr    *corroborator // witnesses' observations of suspects (witnesses.go)

	passMu     sync.Mutex // one pass at a time; guards failStatic
	failStatic routeplan.FailStatic

	mu         sync.Mutex
	last       Report
	snap       Snapshot // the last successful read, for prunes between passes
	haveSnap   bool
	routesByID map[instanceid.ID][]gce.Route // snap's routes by their name's instance id
	verdictAt  map[instanceid.ID]time.Time   // latest change to Unhealthy
	started    time.Time
	lastOK     time.Time // when the last pass that read every group read
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
	if o.DeleteConcurrency <= 0 {
		o.DeleteConcurrency = 1024
	}
	if o.RateLimitRetry <= 0 {
		o.RateLimitRetry = time.Second
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
	// /status reads follow no redirect: a forwarder must not point the
	// reconciler at another URL.
	client := *o.HTTPClient
	client.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		return fmt.Errorf("redirect to %s refused", req.URL.Redacted())
	}
	o.HTTPClient = &client
	mon := health.NewMonitor(health.Config{
		Interval:  cfg.Probe.Interval.Duration,
		Timeout:   cfg.Probe.Timeout.Duration,
		Failures:  cfg.Probe.Failures,
		Successes: cfg.Probe.Successes,
	}, o.Prober, o.Registerer, o.Log.With(logging.Component("health")))
	return &Reconciler{
		opts: o, cfg: cfg, api: o.API, log: o.Log, monitor: mon,
		metrics: newMetrics(o.Registerer), cache: newStatusCache(o.StatusTTL),
		flights:   newFlights(o.DeleteConcurrency, o.Concurrency),
		corr:      newCorroborator(cfg.Probe.Interval.Duration, cfg.Probe.Timeout.Duration),
		verdictAt: map[instanceid.ID]time.Time{}, started: time.Now(),
	}, nil
}

// Run probes and reconciles until ctx ends: a pass at start, on every
// verdict change, and every config interval; prunes on fresh probe verdicts
// in between. It returns nil when ctx ends, once the route operations it
// issued have returned; pass errors are logged and counted, never returned.
func (r *Reconciler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer r.flights.wg.Wait()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(3)
	go func() {
		defer wg.Done()
		r.corroborate(ctx)
	}()
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
		_, _ = r.pass(ctx, false)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-trigger:
		}
	}
}

// watchVerdicts turns verdict changes into prunes and passes. A change
// invalidates the forwarder's cached /status, so a forwarder back to
// Healthy is asked afresh what it wants. Changes that arrive together are
// handled together.
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
			var unhealthy []instanceid.ID
			others := 0
			for more := true; more; {
				if id, ok := r.noteChange(c); ok {
					unhealthy = append(unhealthy, id)
				} else {
					others++
				}
				select {
				case c, more = <-changes:
				default:
					more = false
				}
			}
			// A turn to Unhealthy is handled here in full; a full pass
			// (reads, restores) is for the other changes, or when there is
			// no snapshot yet. Fewer passes during a burst of failures also
			// leave the CPU to the prunes.
			if len(unhealthy) > 0 && r.pruneNow(ctx, unhealthy) && others == 0 {
				continue
			}
			select {
			case trigger <- struct{}{}:
			default: // a pass is already due
			}
		}
	}
}

// noteChange logs a verdict change, forgets the forwarder's /status and
// remembers when it turned Unhealthy; it returns the forwarder's id and
// whether it did.
func (r *Reconciler) noteChange(c health.Change) (instanceid.ID, bool) {
	id, err := instanceid.Parse(c.Key)
	if err != nil {
		return 0, false
	}
	r.cache.forget(id)
	r.log.Info("forwarder verdict changed", logging.Op("probe"), logging.InstanceID(id),
		logging.From(c.From.String()), logging.To(c.To.String()), logging.ErrText(c.Err),
		logging.Failures(c.Failures), logging.Successes(c.Successes))
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.To != health.Unhealthy {
		delete(r.verdictAt, id)
		return id, false
	}
	r.verdictAt[id] = c.Decided
	return id, true
}

// verdictTime is when id last turned Unhealthy.
func (r *Reconciler) verdictTime(id instanceid.ID) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.verdictAt[id]
	return at, ok && !at.IsZero()
}
