package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/logging"
)

// DataPlane is what the agent uses of the data-plane keeper
// (internal/dataplane.Keeper).
type DataPlane interface {
	// Run keeps the kernel state right until ctx ends.
	Run(ctx context.Context) error
	// Ready reports whether the kernel state is what the forwarder needs.
	Ready() bool
	// ReadyChanged wakes a waiter when Ready may have changed.
	ReadyChanged() <-chan struct{}
	State() agentapi.DataPlaneState
	// Alive is when the keeper's loop last ran.
	Alive() time.Time
}

// The agent's states, reported as /status "phase" (see internal/agentapi).
const (
	PhaseStarting   = agentapi.PhaseStarting
	PhaseAnnouncing = agentapi.PhaseAnnouncing
	PhaseServing    = agentapi.PhaseServing
	PhaseDraining   = agentapi.PhaseDraining
	PhaseDrained    = agentapi.PhaseDrained
)

// Options configure an Agent. Identity, Config, Routes and Log are
// required; DataPlane is required for Run, not for Withdraw.
type Options struct {
	Identity gce.Identity
	Group    string // the instance's MIG, for the route marker
	Config   config.Agent
	Version  string
	Routes   gce.Routes

	DataPlane DataPlane

	// Registerer receives the agent's metrics; Gatherer serves /metrics.
	// Both nil: a private registry.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Log        *zap.Logger

	// Listen are the HTTP addresses (ListenAddresses); none: do not serve
	// (tests use Handler).
	Listen []string
	// StopTimeout bounds the drain, counted from the stop request.
	StopTimeout time.Duration // default 80s
	// Hurry, when closed (second SIGTERM), ends the grace at once.
	Hurry <-chan struct{}
	// Metadata, when set, is watched for the drain mark (instance attribute
	// vpclink-drain). Nil: no mark (tests of other things).
	Metadata gce.Metadata

	Concurrency int           // route calls in flight; default 8
	CallTimeout time.Duration // one GCE call incl. waiting for DONE; default 3m
	Backoff     Backoff       // default 500ms doubling to 30s
	// AliveWithin is the liveness window for /healthz and the watchdog: both
	// loops go round every second, and a kernel call is cut at 5 s. Default 15s.
	AliveWithin time.Duration
}

// Agent is one forwarder's control plane. Make it with New.
type Agent struct {
	opt         Options
	log         *zap.Logger
	prefix      string
	wanted      []gce.Route
	wantedNames map[string]bool
	metrics     *metrics
	gatherer    prometheus.Gatherer
	started     time.Time

	heartbeat atomic.Int64 // unix nanos of the control loop's last turn
	mark      *markState
	mu        sync.Mutex
	phase     string
}

// New checks the configuration against the identity and returns an agent.
// Its errors are configuration errors (exit 2).
func New(opt Options) (*Agent, error) {
	opt.Config.Routes = slices.Clone(opt.Config.Routes)
	opt.Config.SetDefaults()
	if err := Validate(opt.Config, opt.Identity); err != nil {
		return nil, err
	}
	wanted, err := WantedRoutes(opt.Config, opt.Identity, opt.Group, opt.Version)
	if err != nil {
		return nil, err
	}
	if opt.StopTimeout <= 0 {
		opt.StopTimeout = 80 * time.Second
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 3 * time.Minute
	}
	if opt.Backoff.Initial <= 0 {
		opt.Backoff = Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second}
	}
	if opt.AliveWithin <= 0 {
		opt.AliveWithin = 15 * time.Second
	}
	if opt.Registerer == nil || opt.Gatherer == nil {
		reg := prometheus.NewRegistry()
		opt.Registerer, opt.Gatherer = reg, reg
	}
	a := &Agent{
		opt:         opt,
		log:         opt.Log.With(logging.Instance(opt.Identity.Name)),
		prefix:      opt.Config.RoutePrefix,
		wanted:      wanted,
		wantedNames: map[string]bool{},
		metrics:     newMetrics(opt.Registerer),
		gatherer:    opt.Gatherer,
		started:     time.Now(),
		phase:       PhaseStarting,
		mark:        newMarkState(opt.Metadata == nil),
	}
	for _, r := range wanted {
		a.wantedNames[r.Name] = true
	}
	a.metrics.routesWanted.Set(float64(len(wanted)))
	a.heartbeat.Store(time.Now().UnixNano())
	return a, nil
}

// Wanted returns the routes this agent announces.
func (a *Agent) Wanted() []gce.Route { return append([]gce.Route(nil), a.wanted...) }

// Run starts the data plane, announces the routes once it is ready and
// serves until ctx ends; then it drains (see the package comment) and
// returns. It returns nil after a complete drain, an error naming the
// routes it could not delete, or the keeper's error if the keeper stopped
// on its own.
func (a *Agent) Run(ctx context.Context) error {
	if a.opt.DataPlane == nil {
		return errors.New("agent: no data plane")
	}
	a.started = time.Now()
	a.beat()
	stopHTTP, err := a.serveHTTP()
	if err != nil {
		return err
	}
	defer stopHTTP()
	n := newNotifier(a.log)
	n.send("STATUS=waiting for the data plane")

	// The keeper outlives ctx: it must keep forwarding through the drain.
	dpCtx, stopDP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDP()
	dpDone := make(chan error, 1)
	go func() { dpDone <- a.opt.DataPlane.Run(dpCtx) }()
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	go a.watchMark(watchCtx)

	l := &loop{a: a, n: n, state: agentapi.PhaseStarting, stopReq: ctx.Done(), dpDone: dpDone, marks: a.mark.wake}
	l.marked, l.markKnown = a.mark.get()
	l.announceCtx, l.cutAnnounce = context.WithCancel(context.WithoutCancel(ctx))
	l.drainCtx, l.cutDrain = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		for _, t := range l.deadlines {
			t.Stop()
		}
		l.cutAnnounce()
		l.cutDrain()
	}()
	tick := time.NewTicker(a.tickInterval(n))
	defer tick.Stop()

	drainErr := l.run(tick.C)
	stopDP()
	if l.dpDone != nil {
		select {
		case <-l.dpDone:
		case <-time.After(5 * time.Second):
			a.log.Warn("data plane keeper did not stop within 5s")
		}
	}
	n.send("STATUS=drained")
	return errors.Join(drainErr, l.keeperErr)
}

// tickInterval is the control loop's period: often enough for the watchdog.
func (a *Agent) tickInterval(n *notifier) time.Duration {
	d := time.Second
	if n.watchdog > 0 && n.watchdog/4 < d {
		d = max(n.watchdog/4, 10*time.Millisecond)
	}
	return d
}

// announce inserts every wanted route, then removes stale ones; it retries
// both until done or stop. It returns nil only when both are done.
func (a *Agent) announce(ctx context.Context, stop <-chan struct{}) error {
	if err := a.runOps(ctx, stop, a.insertOps(a.wanted)); err != nil {
		return err
	}
	if err := a.retryPass(ctx, stop, "reconcile owned routes", a.reconcileOwned); err != nil {
		return err
	}
	took := time.Since(a.started)
	a.metrics.announceSeconds.Set(took.Seconds())
	a.log.Info("routes announced", logging.Op("announce"), logging.Routes(len(a.wanted)), logging.Duration(took))
	return nil
}

// drain withdraws the routes, then keeps forwarding for the grace.
func (a *Agent) drain(ctx context.Context, cause string, n *notifier) error {
	start := time.Now()
	a.log.Info("draining", logging.Op("drain"), logging.Cause(cause), logging.Routes(len(a.wanted)))
	err := a.withdraw(ctx)
	took := time.Since(start)
	a.metrics.drainSeconds.Set(took.Seconds())
	if err != nil {
		a.log.Error("withdraw incomplete", logging.Op("drain"), logging.Duration(took), logging.Err(err))
	} else {
		a.log.Info("routes withdrawn, forwarding through the grace", logging.Op("drain"),
			logging.Duration(took), logging.Grace(a.opt.Config.Drain.Grace.Duration))
		n.send("STATUS=draining: routes withdrawn, forwarding for the " + a.opt.Config.Drain.Grace.String() + " grace")
	}
	for round := 1; a.forwardThroughGrace(ctx) && round < maxGraceRounds; round++ {
		// Another writer (a reconciler's restore that was in flight when the
		// drain began) may have put a route back during the grace. Exiting
		// now would blackhole it, so withdraw it and grant the grace again.
		back, lerr := a.ownedRoutes(ctx, a.isMine)
		if lerr != nil || len(back) == 0 {
			break
		}
		a.log.Warn("routes came back during the grace, withdrawing them again", logging.Op("drain"),
			logging.Routes(len(back)), logging.Round(round))
		if derr := a.runOps(ctx, nil, a.deleteOps(back)); derr != nil {
			err = derr
			break
		}
	}
	return err
}

// maxGraceRounds bounds how often a drain re-withdraws routes that another
// writer put back, so that a fight cannot hold a stop forever.
const maxGraceRounds = 5

// forwardThroughGrace keeps forwarding for drain.grace and reports whether
// the grace ran out in full; a second stop signal or the stop deadline cut it
// short (false).
func (a *Agent) forwardThroughGrace(ctx context.Context) bool {
	t := time.NewTimer(a.opt.Config.Drain.Grace.Duration)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-a.opt.Hurry:
		a.log.Info("grace cut short by a second stop signal", logging.Op("drain"))
	case <-ctx.Done():
		a.log.Warn("grace cut short by the stop deadline", logging.Op("drain"))
	}
	return false
}

// Withdraw deletes every route of this instance id and waits until GCE
// reports each delete DONE, retrying until ctx ends: the wanted names
// first, then a sweep for any other owned route with this id. It is the
// whole of --withdraw-only.
func (a *Agent) Withdraw(ctx context.Context) error {
	return a.withdraw(ctx)
}

func (a *Agent) withdraw(ctx context.Context) error {
	if err := a.runOps(ctx, nil, a.deleteOps(a.wanted)); err != nil {
		return err
	}
	return a.retryPass(ctx, nil, "sweep own routes", func(ctx context.Context) error {
		mine, err := a.ownedRoutes(ctx, a.isMine)
		if err != nil {
			return err
		}
		return a.runOps(ctx, nil, a.deleteOps(mine))
	})
}

func (a *Agent) beat() { a.heartbeat.Store(time.Now().UnixNano()) }

// alive reports whether the control loop and the keeper's loop ran within
// AliveWithin. A keeper that has not reported yet counts from Run's start.
func (a *Agent) alive(now time.Time) bool {
	if now.Sub(time.Unix(0, a.heartbeat.Load())) > a.opt.AliveWithin {
		return false
	}
	if a.opt.DataPlane == nil {
		return true
	}
	last := a.opt.DataPlane.Alive()
	if last.IsZero() {
		last = a.started
	}
	return now.Sub(last) <= a.opt.AliveWithin
}

func (a *Agent) setPhase(p string) {
	a.mu.Lock()
	a.phase = p
	a.mu.Unlock()
}

func (a *Agent) getPhase() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.phase
}

// serveHTTP listens on every Options.Listen address and returns how to stop.
func (a *Agent) serveHTTP() (func(), error) {
	if len(a.opt.Listen) == 0 {
		return func() {}, nil
	}
	// IP_FREEBIND: nic0's address may not be configured yet this early in
	// boot; the socket binds anyway and answers once it is.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	var lns []net.Listener
	for _, addr := range a.opt.Listen {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("http server stopped", logging.Addr(ln.Addr().String()), logging.Err(err))
			}
		}()
		a.log.Info("serving http", logging.Addr(ln.Addr().String()))
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
