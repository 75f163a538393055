package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/logging"
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

// Pass runs one full reconcile: read, plan, act. It returns the report and
// the read error, if any; failed actions are in the report's outcomes and
// are retried by the next pass.
func (r *Reconciler) Pass(ctx context.Context) (rep Report, err error) {
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
	pi := r.prepare(ctx, snap, time.Now())
	plan := routeplan.Compute(pi.in)

	// A restore is decided on a fresh /status only: read it again for every
	// forwarder the plan would insert for, and plan once more.
	if fresh := r.insertTargets(plan, pi); len(fresh) > 0 {
		r.fetchStatuses(ctx, fresh)
		for _, t := range fresh {
			if st, ok := r.cache.get(t.id, time.Now()); ok {
				pi.in.Wanted[t.id] = st
			} else {
				delete(pi.in.Wanted, t.id)
			}
		}
		plan = routeplan.Compute(pi.in)
	}
	rep.Decision = plan
	r.metrics.observePlan(plan)
	r.logFailStatic(plan)
	if len(plan.Actions) > 0 {
		rep.Outcomes = r.apply(ctx, plan.Actions)
		r.observeDetection(pi, rep.Outcomes)
	}
	return rep, nil
}

func (r *Reconciler) insertTargets(plan routeplan.Decision, pi planInputs) []statusTarget {
	seen := map[instanceid.ID]bool{}
	var out []statusTarget
	for _, a := range plan.Actions {
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

// logFailStatic logs when fail static engages, changes reason or releases.
// Callers hold passMu.
func (r *Reconciler) logFailStatic(plan routeplan.Decision) {
	prev := r.failStatic
	r.failStatic = plan.FailStatic
	fs := plan.FailStatic
	switch {
	case fs.Engaged && (!prev.Engaged || fs.Reason != prev.Reason):
		r.log.Warn("fail static engaged: not pruning on probe evidence", logging.Op("failstatic"), logging.Reason(fs.Reason), logging.Groups(fs.Groups))
	case !fs.Engaged && prev.Engaged:
		r.log.Info("fail static released", logging.Op("failstatic"))
	}
}

// observeDetection records detection-to-prune for successful deletes on
// probe evidence.
func (r *Reconciler) observeDetection(pi planInputs, outcomes []Outcome) {
	interval := r.cfg.Probe.Interval.Duration
	for _, o := range outcomes {
		if o.Err != nil || o.Skipped || o.Action.Op != routeplan.OpDelete || o.Action.Evidence != routeplan.EvidenceProbe {
			continue
		}
		s, ok := pi.states[o.Action.InstanceID]
		if !ok || s.LastFailure.IsZero() || s.ConsecutiveFailures < 1 {
			continue
		}
		streakStart := s.LastFailure.Add(-time.Duration(s.ConsecutiveFailures-1) * interval)
		r.metrics.detectionToPrune.Observe(o.Done.Sub(streakStart).Seconds())
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
// the plan without executing it: what `vpclink plan` and `vpclink status`
// show. Do not call it on a Reconciler that is running.
func (r *Reconciler) DryRun(ctx context.Context) (routeplan.Decision, error) {
	snap, err := Gather(ctx, r.cfg, r.api)
	if err != nil {
		return routeplan.Decision{}, err
	}
	pi := r.prepare(ctx, snap, time.Now()) // sets the probe targets
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
	cancel()
	<-done
	pi = r.prepare(ctx, snap, time.Now())
	return routeplan.Compute(pi.in), ctx.Err()
}
