// Package dataplane keeps a forwarder's kernel routing state equal to what
// internal/policy wants, for as long as the agent runs: it repairs what DHCP
// renewals, `ifdown; ifup`, guest network daemon restarts and people undo.
//
// How it decides when to look (DESIGN.md leaves this open):
//
//   - A full pass reads links, addresses, the rules, vpclink's table, main and
//     the sysctls, works out the desired state, diffs and applies, then reads
//     again to report the state reached. Passes run at start (cause
//     "startup"), after netlink events, every ResyncInterval (default 30 s;
//     cause "resync") and, after a failed pass, on a backoff from 100 ms
//     doubling to ResyncInterval (cause "retry").
//   - Events: the first event is acted on at once, then the keeper holds off
//     for HoldOff (default 200 ms), gathering further events into one pass
//     at its end, and holds off again (Tailscale's netmon debounces the same
//     way). A burst of netlink messages thus costs at most one pass per
//     hold-off, and the first repair is not delayed.
//   - Fights: a repair of an object (a rule, a route, a sysctl) repaired less
//     than 10 s before waits 100 ms after that repair, doubling per repeat up
//     to 500 ms, and is counted in vpclink_agent_dataplane_fights_total; the
//     first time a fight begins it is logged as a warning. So a daemon that
//     keeps deleting the rule gets a few repairs a second, not a hundred,
//     and the rule is back within a second of the daemon giving up.
//   - Events are only a hint to look: some changes raise none (an admin-down
//     removes the table's routes silently; sysctl writes only show up through
//     the netconf group, which some kernels lack), so the periodic resync is
//     the backstop.
//   - The monitor socket is re-opened with backoff (100 ms doubling to 10 s)
//     when it fails; a pass runs right after each re-subscribe, since events
//     may have been missed.
//   - The cause of an event-driven repair: link if a link event came, else
//     address if an address event came (vpclink changes neither, so these
//     are never its own echo), else the kind of the first change made
//     (sysctl, rule, route) if an event of that kind came, else that kind
//     anyway (the events were vpclink's own echo; the change was found
//     with them). This keeps repairs by cause honest even when a change by
//     someone else lands among the notifications of vpclink's own writes.
//   - A repair is a pass that changed something. It is counted by cause in
//     vpclink_agent_dataplane_repairs_total and logged as one line naming every
//     change. Passes that find nothing to do log nothing.
//   - Ready means the desired state is complete (nic0 and nic1 found, nic1 up with an
//     address and a gateway) and the kernel matched it after the last pass.
//   - Run never removes anything when it ends: routes must keep forwarding
//     while the agent withdraws its GCE routes and drains.
package dataplane

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/policy"
)

// Causes of passes that are not netlink event kinds (see kernel.Cause*).
const (
	CauseStartup = "startup"
	CauseResync  = "resync"
	CauseRetry   = "retry"

	causeEvent = "event" // placeholder: the cause is worked out from the events and the fix
)

// Config says which NICs to keep and how.
type Config struct {
	// NIC0MAC and NIC1MAC find the NICs (metadata network-interfaces/N/mac).
	// "nic1" is the NIC that policyRouting.nic names; the caller resolves
	// that index to a MAC, the keeper ignores Policy.NIC.
	NIC0MAC, NIC1MAC string
	// NIC0Name and NIC1Name, when set, override the MAC (--nic1-name).
	NIC0Name, NIC1Name string
	// NIC1Gateway is nic1's gateway from metadata; empty: first host of its subnet.
	NIC1Gateway    string
	Policy         config.PolicyRouting
	ResyncInterval time.Duration // default 30s
	HoldOff        time.Duration // after an event-driven pass; default 200ms
}

const (
	defaultResync  = 30 * time.Second
	defaultHoldOff = 200 * time.Millisecond
	heartbeat      = time.Second
	retryFirst     = 100 * time.Millisecond
	resubscribeMax = 10 * time.Second
)

// Keeper is the data-plane loop. Make it with New; call Run once.
type Keeper struct {
	cfg     Config
	k       kernel.Kernel
	log     *zap.Logger
	metrics *metrics

	alive   atomic.Int64 // unix nanos
	readyCh chan struct{}
	// Loop goroutine only:
	incomplete string // why the last desired state was incomplete
	limiter    *repairLimiter
	held       time.Time // when the earliest change held by the limiter may go
	fighting   bool      // the last pass held or fought: the warning was logged

	mu      sync.Mutex
	ready   bool
	wanted  []string
	actual  []string
	last    *agentapi.Repair
	repairs map[string]int
}

// New returns a Keeper over kernel k. Metrics go to reg (nil: not
// registered); log may be nil.
func New(cfg Config, k kernel.Kernel, reg prometheus.Registerer, log *zap.Logger) *Keeper {
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = defaultResync
	}
	if cfg.HoldOff <= 0 {
		cfg.HoldOff = defaultHoldOff
	}
	if log == nil {
		log = zap.NewNop()
	}
	kp := &Keeper{
		cfg: cfg, k: k, log: log, metrics: newMetrics(reg, log),
		readyCh: make(chan struct{}, 1), repairs: map[string]int{}, limiter: newRepairLimiter(),
	}
	kp.alive.Store(time.Now().UnixNano())
	return kp
}

// Ready reports whether the kernel matched the complete wanted state after
// the last pass.
func (kp *Keeper) Ready() bool {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	return kp.ready
}

// ReadyChanged receives a value after Ready changed (coalesced: one value
// may stand for several changes; read Ready after it).
func (kp *Keeper) ReadyChanged() <-chan struct{} { return kp.readyCh }

// Alive returns when the loop last went round; it goes round at least every
// second while it is not stuck in a kernel call.
func (kp *Keeper) Alive() time.Time { return time.Unix(0, kp.alive.Load()) }

// State returns the wanted and actual state as rendered lines, the last
// repair and the repair counts by cause.
func (kp *Keeper) State() agentapi.DataPlaneState {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	s := agentapi.DataPlaneState{
		Wanted:  append([]string(nil), kp.wanted...),
		Actual:  append([]string(nil), kp.actual...),
		Repairs: make(map[string]int, len(kp.repairs)),
	}
	for c, n := range kp.repairs {
		s.Repairs[c] = n
	}
	if kp.last != nil {
		r := *kp.last
		r.Fixed = append([]string(nil), r.Fixed...)
		s.LastRepair = &r
	}
	return s
}

// Run keeps the data plane until ctx ends, then returns nil, leaving the
// kernel state as it is.
func (kp *Keeper) Run(ctx context.Context) error {
	l := &keeperLoop{kp: kp, retryDelay: retryFirst, subDelay: retryFirst, pending: map[string]bool{},
		retry: newStoppedTimer(), holdOff: newStoppedTimer(), release: newStoppedTimer(), resubscribe: newStoppedTimer()}
	resync := time.NewTicker(kp.cfg.ResyncInterval)
	beat := time.NewTicker(heartbeat)
	defer resync.Stop()
	defer beat.Stop()

	// Subscribe before the first pass, so nothing that changes during it
	// goes unseen.
	l.subscribe(ctx)
	l.pass(CauseStartup, nil)
	for {
		kp.alive.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-l.events:
			if !ok {
				l.events = nil
				if ctx.Err() != nil {
					return nil
				}
				kp.log.Warn("netlink monitor closed; subscribing again", logging.Op("subscribe"),
					logging.Duration(l.subDelay))
				l.resubscribe.Reset(l.subDelay)
				continue
			}
			if ev.Err != nil {
				kp.log.Warn("netlink monitor failed", logging.Op("subscribe"), logging.Err(ev.Err))
			}
			l.pending[ev.Cause] = true
			if !l.holding {
				l.passPending()
			}
		case <-l.holdOff.C:
			l.holding = false
			if len(l.pending) > 0 {
				l.passPending()
			}
		case <-l.resubscribe.C:
			if l.subscribe(ctx) {
				l.pass(CauseResync, nil)
			}
		case <-resync.C:
			l.pass(CauseResync, nil)
		case <-l.retry.C:
			l.pass(CauseRetry, nil)
		case <-l.release.C:
			l.pass(causeEvent, nil)
		case <-beat.C:
		}
	}
}

// keeperLoop is Run's state: the event subscription, the kinds of events
// not yet answered, and the timers that bring the next pass.
type keeperLoop struct {
	kp      *Keeper
	events  <-chan kernel.Event // nil while not subscribed
	pending map[string]bool     // kinds of the events since the last pass
	holding bool                // an event-driven pass ran less than HoldOff ago

	retryDelay, subDelay time.Duration
	// retry: after a failed pass; holdOff: end of the hold-off; release:
	// when a change held by the repair limiter may go; resubscribe: the next
	// attempt to open the monitor.
	retry, holdOff, release, resubscribe *time.Timer
}

// subscribe opens the event monitor and reports whether it did; on failure
// it schedules the next attempt.
func (l *keeperLoop) subscribe(ctx context.Context) bool {
	events, err := l.kp.k.Subscribe(ctx)
	if err != nil {
		l.kp.log.Warn("netlink subscribe failed", logging.Op("subscribe"), logging.Err(err))
		l.resubscribe.Reset(l.subDelay)
		l.subDelay = min(l.subDelay*2, resubscribeMax)
		return false
	}
	l.events, l.subDelay = events, retryFirst
	return true
}

// passPending answers the pending events at once and starts a hold-off.
func (l *keeperLoop) passPending() {
	events := l.pending
	l.pending = map[string]bool{}
	l.pass(causeEvent, events)
	l.holding = true
	l.holdOff.Reset(l.kp.cfg.HoldOff)
}

// pass runs one pass and sets the retry and release timers from its outcome.
// Events not yet answered are answered by it too, and name its cause: a
// resync that happens to run during a hold-off repairs what the event
// reported, not "resync".
func (l *keeperLoop) pass(cause string, events map[string]bool) {
	if len(l.pending) > 0 {
		if events == nil {
			events = map[string]bool{}
		}
		for kind := range l.pending {
			events[kind] = true
		}
		l.pending = map[string]bool{}
		cause = causeEvent
	}
	ok := l.kp.sync(cause, events)
	if ok {
		l.retryDelay = retryFirst
		l.retry.Stop()
	} else {
		l.retry.Reset(l.retryDelay)
		l.retryDelay = min(l.retryDelay*2, l.kp.cfg.ResyncInterval)
	}
	l.release.Stop()
	if !l.kp.held.IsZero() {
		l.release.Reset(max(time.Until(l.kp.held), time.Millisecond))
	}
}

func newStoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// setState records a pass's outcome and wakes ReadyChanged on a change.
func (kp *Keeper) setState(ready bool, wanted, actual []string, repair *agentapi.Repair) {
	kp.mu.Lock()
	changed := kp.ready != ready
	kp.ready, kp.wanted, kp.actual = ready, wanted, actual
	if repair != nil {
		kp.last = repair
		kp.repairs[repair.Cause]++
		kp.metrics.repairs.WithLabelValues(repair.Cause).Inc() // under mu: State and metric agree
	}
	kp.mu.Unlock()
	kp.metrics.setReady(ready)
	if changed {
		select {
		case kp.readyCh <- struct{}{}:
		default:
		}
	}
}

// findLink returns the link named name, else the one with MAC mac.
func findLink(links []policy.Link, name, mac string) *policy.Link {
	for i := range links {
		if name != "" && links[i].Name == name {
			return &links[i]
		}
	}
	if name != "" || mac == "" {
		return nil
	}
	for i := range links {
		if strings.EqualFold(links[i].MAC, mac) {
			return &links[i]
		}
	}
	return nil
}
