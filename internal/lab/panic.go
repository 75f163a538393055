package lab

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/lab/traffic"
	"github.com/vpclink/vpclink/internal/naming"
)

// panicPlan is a panic scenario's twist: before runs just ahead of the
// panic, during right after it (when an API outage or a reconciler restart
// hurts most: detection is under way); what during returns runs when the
// scenario's action ends.
type panicPlan struct {
	before func(ctx context.Context, e *env, r *run) error
	during func(ctx context.Context, e *env, r *run) (undo func())
}

// panicCarrier panics the forwarder carrying the UDP stream, with the
// plan's twist around it, and waits until the fabric no longer uses it and
// every TCP flow resumed.
func panicCarrier(plan panicPlan) func(ctx context.Context, e *env, r *run) error {
	return func(ctx context.Context, e *env, r *run) error {
		victim, err := e.stableCarrier(ctx, r.load)
		if err != nil {
			return err
		}
		routes, err := e.carryingRoutes(victim, r.load)
		if err != nil {
			return err
		}
		// A forwarder the reconciler has never seen healthy is starting,
		// and rightly not pruned on probes within its boot grace
		// (DESIGN.md invariant 6): the victim must have been seen healthy.
		if e.isVPCLink() {
			if err := waitUntil(ctx, time.Minute, "reconciler sees "+victim.Name+" healthy", func() bool {
				return e.seenHealthy(victim.ID, victim.CreationTimestamp)
			}); err != nil {
				return err
			}
		}
		if h := e.spec.autoHealing; h != nil && !e.isVPCLink() {
			// The published figures were measured on forwarders that had
			// run for a while: autohealing acts on the victim.
			e.waitOlderThan(ctx, h.InitialDelay+time.Second)
		}
		if plan.before != nil {
			if err := plan.before(ctx, e, r); err != nil {
				return err
			}
		}
		if err := e.fwd.Freeze(victim.Name); err != nil {
			return err
		}
		if err := e.fake.Panic(victim.Project, victim.Zone, victim.Name); err != nil {
			return err
		}
		r.failure = &failure{at: time.Now(), victim: victim, routes: routes, blocked: r.writesBlockedUntil}
		r.disturbed[instanceid.ID(victim.ID)] = true
		r.mark(e, "panic %s", victim.Name)
		e.printf("%s: %s (id %d, nic0 %s) carried the UDP stream on %d of its routes", r.sc.name, victim.Name, victim.ID, victim.NICs[0].IP, len(routes))
		if plan.during != nil {
			if undo := plan.during(ctx, e, r); undo != nil {
				defer undo()
			}
		}
		limit := 2*time.Minute + e.opLatency.Max
		if !e.isVPCLink() {
			// A baseline may take minutes: its whole outage is measured.
			limit = e.settleTime()
		}
		if err := waitUntil(ctx, limit, "panicked forwarder out of the fabric", func() bool { return !e.carries(victim) }); err != nil {
			return err
		}
		e.printf("%s: %s out of the fabric %s after the panic", r.sc.name, victim.Name, time.Since(r.failure.at).Round(time.Millisecond))
		if !e.isVPCLink() {
			// A baseline's recreated member may take over the victim's
			// name, address and (v0.4) routes before it forwards.
			if err := waitUntil(ctx, limit, "UDP stream delivered again", func() bool { return flowing(r.load.Snapshot().UDP) }); err != nil {
				return err
			}
			e.printf("%s: UDP stream delivered again %s after the panic", r.sc.name, time.Since(r.failure.at).Round(time.Millisecond))
		}
		resume := 45 * time.Second
		if !e.isVPCLink() {
			// After a minutes-long outage TCP's backoff reaches its 120 s
			// ceiling (Linux TCP_RTO_MAX) before the next retransmission.
			resume = 2*time.Minute + 5*time.Second
		}
		if err := waitUntil(ctx, resume, "every TCP flow resumed", func() bool {
			_, all := r.load.Snapshot().WorstStall()
			return all
		}); err != nil {
			e.printf("%s: %v", r.sc.name, err)
		}
		return nil
	}
}

// carryingRoutes returns victim's routes that carry the UDP stream: its
// VPC A route (the stream reaches it there: that is how it was chosen) and
// its VPC B route when VPC B's fabric sends the echoes to it too.
func (e *env) carryingRoutes(victim gcefake.Instance, load *Load) ([]string, error) {
	if _, ok := e.design.(carrierDesign); ok {
		return nil, nil // a load balancer carries the stream, no route of the victim's
	}
	id := instanceid.ID(victim.ID)
	routes := []string{naming.RouteName(RoutePrefix, id, Project, NetworkA, VPCBRange)}
	back, err := nextHopOf(e.topo.VPCB(), ServerIP, ClientIP, "server", udpPort, load.UDPSourcePort())
	if err != nil {
		return nil, fmt.Errorf("return path: %w", err)
	}
	if nic1, err := nicOf(victim, 1); err == nil && nic1.IP == back {
		routes = append(routes, naming.RouteName(RoutePrefix, id, Project, NetworkB, VPCARange))
	}
	return routes, nil
}

// withAPIFaults makes 20% of every API call fail (403/429 rate limits,
// 500, 503) until the scenario ends.
func withAPIFaults(_ context.Context, e *env, r *run) func() {
	r.mark(e, "API faults on (%.0f%%)", apiFaultRate*100)
	e.fake.SetFault(gcefake.AllMethods, gcefake.Fault{Rate: apiFaultRate, Codes: []int{403, 429, 500, 503}})
	return func() {
		e.fake.SetFault(gcefake.AllMethods, gcefake.Fault{})
		r.mark(e, "API faults off")
	}
}

// withWritesSpent spends the project's write budget just before the panic,
// as a busy project (another tool, a rollout, a burst of inserts) does: from
// then on every write call fails with 403 rateLimitExceeded until the next
// minute boundary, when GCE refills the quota. The panic is timed to leave
// 15–45 s of the window, so that the wait dominates detection; the floor
// counts the wait instead of the detection time.
func withWritesSpent(ctx context.Context, e *env, r *run) error {
	next := time.Now().Truncate(time.Minute).Add(time.Minute)
	wait := time.Duration(0)
	switch left := time.Until(next); {
	case left < 15*time.Second:
		wait = left + 15*time.Second
	case left > 45*time.Second:
		wait = left - 45*time.Second
	}
	if wait > 0 {
		e.printf("%s: waiting %s so that the write window has 15–45 s left at the panic", r.sc.name, wait.Round(time.Second))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	e.fake.SetRateLimit(Project, readsPerMinute, writesPerMinute)
	e.fake.SpendWriteBudget(Project)
	r.writesBlockedUntil = time.Now().Truncate(time.Minute).Add(time.Minute)
	r.mark(e, "write budget spent (until %s)", r.writesBlockedUntil.UTC().Format("15:04:05"))
	return nil
}

// liftRateLimit removes the project's budgets when the scenario ends.
func liftRateLimit(_ context.Context, e *env, _ *run) func() {
	return func() { e.fake.SetRateLimit(Project, 0, 0) }
}

// withReconcilerRestart kills the reconciler a second into detection and
// starts it again a second later: it must finish the job from API state
// and fresh probes alone.
func withReconcilerRestart(_ context.Context, e *env, r *run) func() {
	time.Sleep(time.Second)
	r.mark(e, "reconciler killed")
	e.rec.kill(syscall.SIGKILL)
	time.Sleep(time.Second)
	if err := e.rec.start(); err != nil {
		e.printf("reconciler restart: %v", err)
	}
	r.mark(e, "reconciler started")
	return nil
}

// flowing reports whether the stream's echoes came back in the last
// complete delivery bins (allowing for the settle time of the snapshot).
func flowing(u traffic.UDPResult) bool {
	if u.Start.IsZero() {
		return false
	}
	i := int((time.Since(u.Start)-udpSettle)/traffic.DeliveryBin) - 2
	return i >= 1 && i < len(u.Delivered) && u.Delivered[i] > 0 && u.Delivered[i-1] > 0
}
