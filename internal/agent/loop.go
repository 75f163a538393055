package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/logging"
)

// follows says which state may follow which; loop.to refuses anything else.
//
//	starting ──► announcing ──► serving
//	    │            │             │
//	    └────────────┴─────────────┴──► draining ──► drained ──► (exit, after a stop)
//	                 ▲                      ▲            │
//	                 └──── mark cleared ────┼────────────┤
//	                                        └─ stop while drained by the mark
var follows = map[string][]string{
	agentapi.PhaseStarting:   {agentapi.PhaseAnnouncing, agentapi.PhaseDraining},
	agentapi.PhaseAnnouncing: {agentapi.PhaseServing, agentapi.PhaseDraining},
	agentapi.PhaseServing:    {agentapi.PhaseDraining},
	agentapi.PhaseDraining:   {agentapi.PhaseDrained},
	agentapi.PhaseDrained:    {agentapi.PhaseAnnouncing, agentapi.PhaseDraining},
}

// loop is Run's state. Only Run's goroutine touches it; what the HTTP
// handlers read goes through Agent.setPhase.
type loop struct {
	a *Agent
	n *notifier

	state     string
	stopCause string // set once a stop was asked for (signal, keeper gone)
	keeperErr error
	marked    bool // the drain mark is set (as last read)
	markKnown bool // the mark has been read at least once
	final     bool // the withdraw in flight is the stop's drain: its end ends Run

	// The select's channels. Each is nil while its case must not fire: after
	// it fired once, or while nothing is running that could send on it.
	stopReq   <-chan struct{} // Run's ctx.Done()
	dpDone    chan error      // the keeper's Run returned
	marks     <-chan struct{} // the drain mark may have changed
	announced chan error      // the announce in flight finished
	withdrawn chan error      // the withdraw or drain in flight finished

	stopAnnounce   chan struct{} // closed to stop the announce in flight
	announceExited chan struct{} // closed when that announce has returned

	// announceCtx bounds announce calls; it is cut half the stop timeout
	// after the stop request, so that an insert GCE is slow to finish cannot
	// eat the drain's time. drainCtx bounds withdraw calls; it is cut at the
	// stop timeout.
	announceCtx, drainCtx context.Context
	cutAnnounce, cutDrain context.CancelFunc
	deadlines             []*time.Timer
}

// to moves to state next, which follows must allow.
func (l *loop) to(next string) {
	if !slices.Contains(follows[l.state], next) {
		panic(fmt.Sprintf("agent: state %s cannot follow %s", next, l.state))
	}
	l.a.log.Info("state changed", logging.Op("state"), logging.From(l.state), logging.To(next))
	l.state = next
	l.a.setPhase(next)
}

// leaving reports whether the routes must go: a stop was asked for, or the
// instance carries the drain mark.
func (l *loop) leaving() bool { return l.stopCause != "" || l.marked }

// advance starts what the current state and inputs call for. It reports
// whether Run is over.
func (l *loop) advance() bool {
	switch l.state {
	case agentapi.PhaseStarting:
		if l.leaving() {
			l.startWithdraw()
		} else if l.markKnown && l.a.opt.DataPlane.Ready() {
			l.startAnnounce()
		}
	case agentapi.PhaseAnnouncing, agentapi.PhaseServing:
		if l.leaving() {
			l.startWithdraw()
		}
	case agentapi.PhaseDrained:
		switch {
		case l.final:
			return true
		case l.stopCause != "":
			l.startWithdraw() // the stop's drain: sweep again, then the grace
		case !l.marked && l.a.opt.DataPlane.Ready():
			l.startAnnounce()
		}
	}
	return false
}

func (l *loop) startAnnounce() {
	l.to(agentapi.PhaseAnnouncing)
	l.n.send("STATUS=announcing " + fmt.Sprint(len(l.a.wanted)) + " routes")
	stop, exited, result := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	l.stopAnnounce, l.announceExited, l.announced = stop, exited, result
	go func() {
		defer close(exited)
		result <- l.a.announce(l.announceCtx, stop)
	}()
}

// startWithdraw stops the announce in flight, if any, and withdraws the
// routes once it has returned: never delete while an insert is in flight.
// After a stop it is the drain (withdraw, then the grace); after the drain
// mark it only withdraws.
func (l *loop) startWithdraw() {
	l.to(agentapi.PhaseDraining)
	l.a.metrics.ready.Set(0)
	l.final = l.stopCause != ""
	if l.stopAnnounce != nil {
		close(l.stopAnnounce)
		l.stopAnnounce = nil
	}
	exited, final, cause := l.announceExited, l.final, l.stopCause
	result := make(chan error, 1)
	l.withdrawn = result
	if final {
		l.n.send("STOPPING=1\nSTATUS=draining: withdrawing " + fmt.Sprint(len(l.a.wanted)) + " routes, still forwarding")
	} else {
		l.n.send("STATUS=drain mark set: withdrawing " + fmt.Sprint(len(l.a.wanted)) + " routes, still forwarding")
	}
	go func() {
		if exited != nil {
			<-exited
		}
		if final {
			result <- l.a.drain(l.drainCtx, cause, l.n)
			return
		}
		result <- l.a.markDrain(l.drainCtx)
	}()
}

// requestStop records the first stop request and sets the deadlines.
func (l *loop) requestStop(cause string) {
	if l.stopCause != "" {
		return
	}
	l.stopCause = cause
	half := l.a.opt.StopTimeout / 2
	l.deadlines = append(l.deadlines,
		time.AfterFunc(half, l.cutAnnounce), time.AfterFunc(l.a.opt.StopTimeout, l.cutDrain))
}

// readyWake is the data plane's wake-up while an announce may wait for it
// (starting, or drained by the mark), else nil.
func (l *loop) readyWake() <-chan struct{} {
	if l.state != agentapi.PhaseStarting && l.state != agentapi.PhaseDrained {
		return nil
	}
	return l.a.opt.DataPlane.ReadyChanged()
}

// run is Run's loop; it returns Run's result.
func (l *loop) run(tick <-chan time.Time) error {
	var drainErr error
	for !l.advance() {
		select {
		case now := <-tick:
			l.a.beat()
			l.n.maybePing(now, l.a.alive(now))
		case <-l.readyWake():
		case <-l.stopReq:
			l.stopReq = nil
			l.requestStop("stop requested")
		case err := <-l.dpDone:
			l.dpDone = nil
			l.keeperErr = errors.New("data plane keeper stopped on its own")
			if err != nil {
				l.keeperErr = fmt.Errorf("data plane keeper stopped: %w", err)
			}
			l.a.log.Error("data plane keeper stopped, withdrawing routes", logging.Err(l.keeperErr))
			l.requestStop(l.keeperErr.Error())
		case <-l.marks:
			l.marked, l.markKnown = l.a.mark.get()
		case err := <-l.announced:
			l.announced = nil
			if err == nil && l.state == agentapi.PhaseAnnouncing {
				l.to(agentapi.PhaseServing)
				l.a.metrics.ready.Set(1)
				l.n.send("READY=1\nSTATUS=serving: " + fmt.Sprint(len(l.a.wanted)) + " routes announced")
			}
		case err := <-l.withdrawn:
			l.withdrawn = nil
			l.to(agentapi.PhaseDrained)
			if l.final {
				drainErr = err
			} else if err == nil {
				l.n.send("STATUS=drained by the drain mark: routes withdrawn, still forwarding")
			}
		}
	}
	return drainErr
}
