// Package dataplane keeps a forwarder's kernel routing state equal to what
// internal/policy wants, for as long as the agent runs: it repairs what DHCP
// renewals, `ifdown; ifup`, guest network daemon restarts and people undo.
//
// How it decides when to look (DESIGN.md leaves this open):
//
//   - A full pass reads links, addresses, the rules, vpclink's table, main and
//     the sysctls, plans, diffs and applies, then reads again to report the
//     state reached. Passes run at start (cause "startup"), after netlink
//     events (debounced, default 10 ms), every ResyncInterval (default
//     30 s; cause "resync") and, after a failed pass, on a backoff from 100 ms
//     doubling to ResyncInterval (cause "retry").
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
	Debounce       time.Duration // default 10ms
}

const (
	defaultResync   = 30 * time.Second
	defaultDebounce = 10 * time.Millisecond
	heartbeat       = time.Second
	retryFirst      = 100 * time.Millisecond
	resubscribeMax  = 10 * time.Second
)

// Keeper is the data-plane loop. Make it with New; call Run once.
type Keeper struct {
	cfg     Config
	k       kernel.Kernel
	log     *zap.Logger
	metrics *metrics

	alive      atomic.Int64 // unix nanos
	readyCh    chan struct{}
	incomplete string // why the last desired state was incomplete; loop goroutine only

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
	if cfg.Debounce <= 0 {
		cfg.Debounce = defaultDebounce
	}
	if log == nil {
		log = zap.NewNop()
	}
	kp := &Keeper{
		cfg: cfg, k: k, log: log, metrics: newMetrics(reg, log),
		readyCh: make(chan struct{}, 1), repairs: map[string]int{},
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
	retryDelay := retryFirst
	retry := newStoppedTimer()
	debounce := newStoppedTimer()
	resubscribe := newStoppedTimer()
	resync := time.NewTicker(kp.cfg.ResyncInterval)
	beat := time.NewTicker(heartbeat)
	defer resync.Stop()
	defer beat.Stop()

	pass := func(cause string, events map[string]bool) {
		if kp.sync(cause, events) {
			retryDelay = retryFirst
			retry.Stop()
			return
		}
		retry.Reset(retryDelay)
		retryDelay = min(retryDelay*2, kp.cfg.ResyncInterval)
	}

	// Subscribe before the first pass, so nothing that changes during it
	// goes unseen.
	subDelay := retryFirst
	events, err := kp.k.Subscribe(ctx)
	if err != nil {
		kp.log.Warn("netlink subscribe failed", logging.Op("subscribe"), logging.Err(err))
		resubscribe.Reset(subDelay)
	}
	pass(CauseStartup, nil)
	pending := map[string]bool{} // kinds of the events since the last pass
	for {
		kp.alive.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				if ctx.Err() != nil {
					return nil
				}
				kp.log.Warn("netlink monitor closed; subscribing again", logging.Op("subscribe"),
					logging.Duration(subDelay))
				resubscribe.Reset(subDelay)
				continue
			}
			if ev.Err != nil {
				kp.log.Warn("netlink monitor failed", logging.Op("subscribe"), logging.Err(ev.Err))
			}
			if len(pending) == 0 {
				debounce.Reset(kp.cfg.Debounce)
			}
			pending[ev.Cause] = true
		case <-debounce.C:
			events := pending
			pending = map[string]bool{}
			pass(causeEvent, events)
		case <-resubscribe.C:
			events, err = kp.k.Subscribe(ctx)
			if err != nil {
				subDelay = min(subDelay*2, resubscribeMax)
				kp.log.Warn("netlink subscribe failed", logging.Op("subscribe"), logging.Err(err))
				resubscribe.Reset(subDelay)
				continue
			}
			subDelay = retryFirst
			pass(CauseResync, nil)
		case <-resync.C:
			pass(CauseResync, nil)
		case <-retry.C:
			pass(CauseRetry, nil)
		case <-beat.C:
		}
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
