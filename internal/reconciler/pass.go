package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/naming"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// Report is the outcome of one pass.
type Report struct {
	Start    time.Time
	Duration time.Duration
	Err      error // reading the API failed; nothing was done
	// Decision is this pass's; after a read error, the last one computed,
	// so that /status keeps showing the forwarders as last seen.
	Decision routeplan.Decision
	Outcomes []Outcome
}

// Outcome is what became of one action of a pass.
type Outcome struct {
	Action routeplan.Action
	// Pending: issued by this pass and still running when the report was
	// made. InFlight: the same operation on the route was already running,
	// so it was not issued again. Skipped: not issued (an insert of a route
	// being deleted, or a delete whose After insert did not succeed).
	Pending, InFlight, Skipped bool
	Err                        error
	Duration                   time.Duration
	Done                       time.Time
}

// Pass runs one full reconcile, read, decide, act, and waits for the route
// operations it issued: for tests and one-shot use (Run does not wait). It
// returns the report and the read error, if any; failed actions are in the
// report's outcomes and are retried by the next pass.
func (r *Reconciler) Pass(ctx context.Context) (Report, error) {
	return r.pass(ctx, true)
}

func (r *Reconciler) pass(ctx context.Context, wait bool) (rep Report, err error) {
	r.passMu.Lock()
	defer r.passMu.Unlock()
	rep.Start = time.Now()
	defer func() {
		rep.Duration = time.Since(rep.Start)
		r.metrics.passDuration.Observe(rep.Duration.Seconds())
		r.mu.Lock()
		r.last = rep
		r.mu.Unlock()
	}()

	snap, err := Gather(ctx, r.cfg, r.api)
	if err != nil {
		rep.Err = fmt.Errorf("reconcile pass: %w", err)
		rep.Decision = r.LastReport().Decision
		r.metrics.passErrors.Inc()
		r.log.Warn("reconcile pass could not read the API, nothing done", logging.Op("reconcile"), logging.Err(rep.Err))
		return rep, rep.Err
	}
	byID := routesByInstance(r.cfg.RoutePrefix, snap.Routes)
	r.mu.Lock()
	r.snap, r.haveSnap, r.routesByID = snap, true, byID
	if len(snap.GroupErrs) == 0 {
		r.lastOK = time.Now()
	}
	r.mu.Unlock()
	if len(snap.GroupErrs) == 0 {
		r.metrics.lastSuccess.SetToCurrentTime()
	}
	for _, g := range snap.Unread() {
		rep.Err = errors.Join(rep.Err, snap.GroupErrs[g])
		r.metrics.passErrors.Inc()
		r.log.Error("group could not be read: its routes are left alone this pass, other groups go on",
			logging.Op("reconcile"), logging.Group(g), logging.Err(snap.GroupErrs[g]))
	}

	pi := r.prepare(snap, time.Now())
	dec := routeplan.Compute(pi.in)
	// Prunes first: they need no /status.
	first, flights := r.dispatch(ctx, unordered(deletes(dec.Actions)), pi.states, snap.Taken)

	// A restore is decided on a fresh /status only: read the missing ones
	// and, again, those of every forwarder the decision would insert for.
	if fresh := append(pi.missing, r.insertTargets(dec, pi)...); len(fresh) > 0 {
		r.fetchStatuses(ctx, fresh)
		for _, t := range fresh {
			if st, ok := r.cache.get(t.id, time.Now()); ok {
				pi.in.Wanted[t.id] = st
			} else {
				delete(pi.in.Wanted, t.id)
			}
		}
		dec = routeplan.Compute(pi.in)
	}
	rep.Decision = dec
	r.metrics.observePlan(dec)
	r.logFailStatic(dec)
	if dec.Capped > 0 {
		r.metrics.restoresCapped.Add(float64(dec.Capped))
		r.log.Warn("restores capped: the rest come in later passes", logging.Op("restore"), logging.Count(dec.Capped),
			logging.Reason(fmt.Sprintf("restore.maxPerForwarder %d, restore.maxPerPass %d", r.cfg.Restore.MaxPerForwarder, r.cfg.Restore.MaxPerPass)))
	}
	second, more := r.dispatch(ctx, notIn(dec.Actions, first), pi.states, snap.Taken)
	rep.Outcomes = append(first, second...)
	if wait {
		waitAll(ctx, append(flights, more...))
		settle(rep.Outcomes, append(flights, more...))
	}
	return rep, rep.Err
}

// pruneNow issues the probe prunes of the forwarders ids, decided on the
// last snapshot and the monitor's current states, without reading the API
// or any /status. The decision sees every member (fail static is judged
// per group) but only the routes of ids, which keeps it to a millisecond
// or so at a thousand forwarders.
// It reports whether there was a snapshot to decide on.
func (r *Reconciler) pruneNow(ctx context.Context, ids []instanceid.ID) bool {
	r.mu.Lock()
	snap, ok := r.snap, r.haveSnap
	byID := r.routesByID
	r.mu.Unlock()
	if !ok {
		return false
	}
	var routes []gce.Route
	for _, id := range ids {
		routes = append(routes, byID[id]...)
	}
	if len(routes) == 0 {
		return true
	}
	snap.Routes = routes
	states := statesByID(r.monitor.States())
	dec := routeplan.Compute(r.input(snap, states, nil, time.Now()))
	var prunes []routeplan.Action
	for _, a := range dec.Actions {
		if a.Op == routeplan.OpDelete && a.Evidence == routeplan.EvidenceProbe {
			prunes = append(prunes, a)
		}
	}
	if len(prunes) > 0 {
		r.dispatch(ctx, prunes, states, snap.Taken)
	}
	return true
}

// apply issues actions and waits for them: Pass's way, and tests'.
func (r *Reconciler) apply(ctx context.Context, actions []routeplan.Action) []Outcome {
	out, fl := r.dispatch(ctx, actions, nil, time.Now())
	waitAll(ctx, fl)
	settle(out, fl)
	return out
}

func waitAll(ctx context.Context, fl []*flight) {
	for _, f := range fl {
		select {
		case <-f.done:
		case <-ctx.Done():
			return
		}
	}
}

// settle copies the results of ended flights into their outcomes.
func settle(out []Outcome, fl []*flight) {
	byName := map[flightKey]*flight{}
	for _, f := range fl {
		byName[flightKey{f.action.Op, f.action.Route.Name}] = f
	}
	for i := range out {
		f := byName[flightKey{out[i].Action.Op, out[i].Action.Route.Name}]
		if f == nil || !out[i].Pending {
			continue
		}
		select {
		case <-f.done:
		default:
			continue
		}
		out[i].Pending = false
		out[i].Err, out[i].Skipped, out[i].Done = f.err, f.skipped, f.ended
		if !f.issued.IsZero() {
			out[i].Duration = f.ended.Sub(f.issued)
		}
	}
}

// routesByInstance indexes routes by the instance id in their name; names
// that do not parse are left out (they are not ours to prune).
func routesByInstance(prefix string, routes []gce.Route) map[instanceid.ID][]gce.Route {
	out := map[instanceid.ID][]gce.Route{}
	for _, rt := range routes {
		if n, err := naming.ParseName(prefix, rt.Name); err == nil {
			out[n.InstanceID] = append(out[n.InstanceID], rt)
		}
	}
	return out
}

func deletes(actions []routeplan.Action) []routeplan.Action {
	var out []routeplan.Action
	for _, a := range actions {
		if a.Op == routeplan.OpDelete {
			out = append(out, a)
		}
	}
	return out
}

// unordered drops the actions that wait for another.
func unordered(actions []routeplan.Action) []routeplan.Action {
	var out []routeplan.Action
	for _, a := range actions {
		if a.After == "" {
			out = append(out, a)
		}
	}
	return out
}

// notIn drops the actions already dispatched as done.
func notIn(actions []routeplan.Action, done []Outcome) []routeplan.Action {
	seen := map[flightKey]bool{}
	for _, o := range done {
		seen[flightKey{o.Action.Op, o.Action.Route.Name}] = true
	}
	var out []routeplan.Action
	for _, a := range actions {
		if !seen[flightKey{a.Op, a.Route.Name}] {
			out = append(out, a)
		}
	}
	return out
}

func (r *Reconciler) insertTargets(dec routeplan.Decision, pi planInputs) []statusTarget {
	seen := map[instanceid.ID]bool{}
	for _, t := range pi.missing {
		seen[t.id] = true
	}
	var out []statusTarget
	for _, a := range dec.Actions {
		if a.Op != routeplan.OpInsert || seen[a.InstanceID] {
			continue
		}
		seen[a.InstanceID] = true
		if t, ok := pi.statusOf[a.InstanceID]; ok {
			out = append(out, t)
		}
	}
	return out
}

// logFailStatic logs when probe prunes start being held for lack of
// corroboration, when the reason changes, and when the holds end. Callers
// hold passMu.
func (r *Reconciler) logFailStatic(dec routeplan.Decision) {
	prev := r.failStatic
	r.failStatic = dec.FailStatic
	fs := dec.FailStatic
	switch {
	case fs.Engaged && (!prev.Engaged || fs.Reason != prev.Reason):
		r.log.Warn("fail static: probe prunes held, no second vantage point agrees", logging.Op("failstatic"),
			logging.Count(len(dec.Uncorroborated)), logging.Reason(fs.Reason), logging.Groups(fs.Groups))
	case !fs.Engaged && prev.Engaged:
		r.log.Info("fail static released", logging.Op("failstatic"))
	}
}

// LastReport returns the most recent pass's report.
func (r *Reconciler) LastReport() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// DryRun reads the API, probes every forwarder until each has a verdict or
// the probe budget is spent, reads the /status of healthy ones and returns
// the decision without executing it: what `vpclink plan` and `vpclink
// status` show. Do not call it on a Reconciler that is running.
func (r *Reconciler) DryRun(ctx context.Context) (routeplan.Decision, error) {
	snap, err := Gather(ctx, r.cfg, r.api)
	if err != nil {
		return routeplan.Decision{}, err
	}
	pi := r.prepare(snap, time.Now()) // sets the probe targets
	probeCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.monitor.Run(probeCtx)
	}()
	p := r.cfg.Probe
	interval := max(p.Interval.Duration, time.Millisecond)
	rounds := max(p.Failures, p.Successes) + 1
	deadline := time.Now().Add(time.Duration(rounds)*interval + p.Timeout.Duration)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if allDecided(r.monitor.States(), len(pi.statusOf)) {
			break
		}
		time.Sleep(interval / 4)
	}
	r.mu.Lock()
	r.snap, r.haveSnap = snap, true
	r.mu.Unlock()
	r.askSuspectsAndWait(ctx)
	cancel()
	<-done
	pi = r.prepare(snap, time.Now())
	if len(pi.missing) > 0 {
		r.fetchStatuses(ctx, pi.missing)
		pi = r.prepare(snap, time.Now())
	}
	return routeplan.Compute(pi.in), ctx.Err()
}
