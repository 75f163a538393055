package lab

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
	"github.com/vpclink/vpclink/internal/rollout"
)

// Check names of the operator's scenarios (drain, MIG update, rollout).
const (
	// CheckRoutesRestored counts inserts of a drained forwarder's routes
	// while it is drained: no agent, no reconciler may put them back.
	CheckRoutesRestored = "routes_restored"
	// CheckMinCapacity is the fewest forwarders carrying traffic at any
	// moment of an update; it must never fall below the target size.
	CheckMinCapacity = "min_capacity"
)

// reconcileInterval is the reconciler's pass interval, as reconcilerConfig
// writes it.
const reconcileInterval = 5 * time.Second

// drainHoldPasses is how many reconcile passes a drained forwarder stays
// RUNNING and healthy: each is a chance for the reconciler to restore it.
const drainHoldPasses = 3

// opsOps is `vpclink drain`/`rollout`'s logic against the lab's group.
func (e *env) opsOps() rollout.Ops {
	return rollout.Ops{
		Routes: e.api.Routes, Instances: e.api.Instances, Groups: e.api.Groups,
		RoutePrefix: RoutePrefix, Out: e.opts.Progress, Who: "lab",
	}
}

// drainHold drains the forwarder carrying the UDP stream, keeps it RUNNING
// and healthy for drainHoldPasses reconcile passes with its routes
// withdrawn, then undrains it and waits until the whole group carries
// traffic again.
func drainHold(ctx context.Context, e *env, r *run) error {
	if m, ok := e.design.(maintainer); ok {
		return m.maintenance(ctx, e, r)
	}
	victim, err := e.stableCarrier(ctx, r.load)
	if err != nil {
		return err
	}
	ops := e.opsOps()
	id := instanceid.ID(victim.ID)
	r.disturbed[id] = true // its routes are deleted on purpose
	r.mark(e, "drain %s", victim.Name)
	// The agent withdraws on seeing the mark, often before the drain's own
	// deletes: what counts is that none of its routes is left.
	deleted, err := ops.Drain(ctx, victim.Project, victim.Zone, victim.Name, e.opts.DrainGrace)
	if err != nil {
		return err
	}
	drained := time.Now()
	r.mark(e, "%s drained (%d routes deleted by the drain)", victim.Name, deleted)
	if n := e.ownedRoutesOf(id); n > 0 {
		return fmt.Errorf("drain %s: %d routes left", victim.Name, n)
	}
	hold := drainHoldPasses*reconcileInterval + probeInterval*probeFailures
	var problem string
	_ = waitUntil(ctx, hold, "drain hold", func() bool {
		in, ok := e.fake.Instance(victim.Project, victim.Zone, victim.Name)
		switch {
		case !ok || in.ID != victim.ID:
			problem = "replaced during the hold"
		case in.Status != gcefake.StatusRunning || in.Panicked:
			problem = fmt.Sprintf("%s (panicked %v) during the hold", in.Status, in.Panicked)
		case e.carries(victim):
			problem = "back in the fabric while drained"
		case e.ownedRoutesOf(id) > 0:
			problem = "has routes again while drained"
		}
		return problem != ""
	})
	if problem != "" {
		return fmt.Errorf("drained %s: %s", victim.Name, problem)
	}
	r.mark(e, "%s held drained %s, undrain", victim.Name, time.Since(drained).Round(time.Second))
	restored := e.routeInserts(id, drained, time.Now())
	r.extra = append(r.extra, AtMost(CheckRoutesRestored, float64(restored), 0))
	if _, err := ops.Undrain(ctx, victim.Project, victim.Zone, victim.Name, 2*time.Minute+e.opLatency.Max); err != nil {
		return err
	}
	if err := e.waitRouting(ctx, len(e.members()), time.Minute+e.opts.Propagation.Max); err != nil {
		return fmt.Errorf("after the undrain: %w", err)
	}
	r.mark(e, "%s undrained, traffic shared again", victim.Name)
	return nil
}

// ownedRoutesOf counts the owned routes of instance id the fake holds.
func (e *env) ownedRoutesOf(id instanceid.ID) int {
	n := 0
	for _, rt := range e.fake.Routes(Project) {
		if !naming.IsOwned(RoutePrefix, rt.GetName(), rt.GetDescription()) {
			continue
		}
		if p, err := naming.ParseName(RoutePrefix, rt.GetName()); err == nil && p.InstanceID == id {
			n++
		}
	}
	return n
}

// routeInserts counts routes.insert operations for instance id's routes
// issued between from and to.
func (e *env) routeInserts(id instanceid.ID, from, to time.Time) int {
	n := 0
	for _, op := range e.fake.OperationLog() {
		if op.Method != methodRouteInsert || op.Issued.Before(from) || op.Issued.After(to) {
			continue
		}
		if p, err := naming.ParseName(RoutePrefix, op.Target); err == nil && p.InstanceID == id {
			e.printf("route %s of a drained forwarder inserted at %s", op.Target, op.Issued.UTC().Format("15:04:05.000"))
			n++
		}
	}
	return n
}

// migUpdate gives the group a new template under a PROACTIVE update policy
// (maxSurge 1, maxUnavailable 0) and lets the fake's MIG replace every
// member on its own, as `gcloud compute instance-groups managed
// rolling-action start-update` does. The policy goes back to OPPORTUNISTIC
// afterwards: `vpclink rollout` refuses a PROACTIVE group.
func migUpdate(ctx context.Context, e *env, r *run) error {
	p := e.group
	err := e.fake.SetUpdatePolicy(p.Project, p.Zone, p.Name, gcefake.UpdatePolicy{Type: "PROACTIVE", MaxSurge: ptrTo(1), MaxUnavailable: ptrTo(0)})
	if err != nil {
		return fmt.Errorf("update policy: %w", err)
	}
	defer func() {
		if err := e.fake.SetUpdatePolicy(p.Project, p.Zone, p.Name, gcefake.UpdatePolicy{Type: "OPPORTUNISTIC"}); err != nil {
			e.printf("%s: update policy back: %v", r.sc.name, err)
		}
	}()
	next := fmt.Sprintf("projects/%s/global/instanceTemplates/%s-%d", p.Project, p.Name, time.Now().UnixNano())
	began := time.Now()
	r.mark(e, "template %s, PROACTIVE update", next)
	if err := e.api.Groups.SetInstanceTemplate(ctx, p, next); err != nil {
		return fmt.Errorf("new template: %w", err)
	}
	n := len(r.members)
	limit := time.Duration(n) * (3*time.Minute + e.opts.BootDelay + 2*e.opLatency.Max)
	var last string
	err = waitUntil(ctx, limit, "MIG update", func() bool {
		g, err := e.api.Groups.Get(ctx, p)
		if err != nil {
			last = err.Error()
			return false
		}
		if !g.Stable || !g.VersionTargetReached {
			return false
		}
		for _, m := range e.members() {
			if _, old := r.members[instanceid.ID(m.ID)]; old {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("%w (last error: %s)", err, last)
	}
	r.mark(e, "MIG update done")
	if err := e.waitRouting(ctx, n, time.Minute+e.opLatency.Max+e.opts.Propagation.Max); err != nil {
		return fmt.Errorf("after the update: %w", err)
	}
	e.printf("%s: fewest forwarders carrying traffic during the update: %d of %d", r.sc.name, e.minCapacity(began, time.Now()), n)
	return nil
}

func ptrTo[T any](v T) *T { return &v }

// withMinCapacity runs act and adds min_capacity: the fewest forwarders
// carrying traffic at any moment of it, against the target size.
func withMinCapacity(act func(ctx context.Context, e *env, r *run) error) func(ctx context.Context, e *env, r *run) error {
	return func(ctx context.Context, e *env, r *run) error {
		began := time.Now()
		sampled := sampleCapacity(ctx, e)
		err := act(ctx, e, r)
		n, wasSampled := sampled()
		if !e.isVPCLink() && !wasSampled {
			// The effective-route log names incarnations by vpclink's
			// route names: a baseline's capacity is not read from it.
			return err
		}
		low := n
		if !wasSampled {
			low = e.minCapacity(began, time.Now())
		}
		e.printf("%s: fewest forwarders carrying traffic: %d", r.sc.name, low)
		r.extra = append(r.extra, Exactly(CheckMinCapacity, float64(low), float64(r.sc.final(e.opts))))
		return err
	}
}

// minCapacity replays the fake's effective-route log and returns the fewest
// forwarders carrying traffic between from and to: incarnations with a route
// in effect on both networks. Changes stamped alike count as one moment.
func (e *env) minCapacity(from, to time.Time) int {
	return MinCarrying(e.fake.EffectiveLog(), from, to)
}

// MinCarrying is minCapacity over a given effective-route log.
func MinCarrying(log []gcefake.EffectiveChange, from, to time.Time) int {
	log = append([]gcefake.EffectiveChange(nil), log...)
	sort.SliceStable(log, func(i, j int) bool { return log[i].At.Before(log[j].At) })
	effective := map[string]bool{}
	i := 0
	for ; i < len(log) && log[i].At.Before(from); i++ {
		effective[log[i].Route] = log[i].Effective
	}
	low := carrying(effective) // the state the window opens with
	for ; i < len(log) && !log[i].At.After(to); i++ {
		effective[log[i].Route] = log[i].Effective
		if i+1 < len(log) && log[i+1].At.Equal(log[i].At) {
			continue
		}
		low = min(low, carrying(effective))
	}
	return low
}

// carrying counts incarnations with an effective route on both networks.
func carrying(effective map[string]bool) int {
	nets := map[instanceid.ID]map[string]bool{}
	for route, on := range effective {
		if !on {
			continue
		}
		p, err := naming.ParseName(RoutePrefix, route)
		if err != nil {
			continue
		}
		for _, n := range []struct{ network, dest string }{{NetworkA, VPCBRange}, {NetworkB, VPCARange}} {
			if naming.RouteName(RoutePrefix, p.InstanceID, Project, n.network, n.dest) == route {
				if nets[p.InstanceID] == nil {
					nets[p.InstanceID] = map[string]bool{}
				}
				nets[p.InstanceID][n.network] = true
			}
		}
	}
	n := 0
	for _, m := range nets {
		if m[NetworkA] && m[NetworkB] {
			n++
		}
	}
	return n
}
