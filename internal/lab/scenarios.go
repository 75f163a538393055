package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/rollout"
)

// Scenario timing.
const (
	// baseline is how long traffic runs before a scenario's action.
	baseline = 2 * time.Second
	// after is how long traffic keeps running once the action is over.
	after = 3 * time.Second
	// nic1FlapDown is how long nic1 stays down without its address.
	nic1FlapDown = 2 * time.Second
	// apiFaultRate is the share of API calls that fail in panic-api-faults.
	apiFaultRate = 0.2
)

// scenario is one acceptance scenario: the group starts at initial
// forwarders, traffic runs (from the start unless the group is empty), act
// does the thing, and the group must end at final. A new scenario is one
// more entry in scenarios.
type scenario struct {
	name    string
	initial func(o Options) int
	final   func(o Options) int
	// starts reports whether new forwarders start (scale out, replacement,
	// autohealing): then time_to_routing is checked.
	starts bool
	// pastBootGrace: the victim must be older than the reconciler's boot
	// grace before the action (a restarted reconciler has not seen it
	// healthy and rightly leaves a younger one alone).
	pastBootGrace bool
	limits        Limits
	act           func(ctx context.Context, e *env, r *run) error
}

func fixed(n int) func(Options) int { return func(Options) int { return n } }
func configured(o Options) int      { return o.Forwarders }

// scenarios in canonical order: DESIGN.md's list, from the earlier system's
// acceptance criteria, then the ones added since.
var scenarios = []scenario{
	{name: "scale-0-1", initial: fixed(0), final: fixed(1), starts: true, limits: plannedLimits, act: scaleTo(1)},
	{name: "scale-1-3", initial: fixed(1), final: fixed(3), starts: true, limits: plannedLimits, act: scaleTo(3)},
	{name: "scale-3-1", initial: fixed(3), final: fixed(1), limits: plannedLimits, act: scaleTo(1)},
	{name: "rolling-update", initial: configured, final: configured, starts: true, limits: plannedLimits, act: withMinCapacity(rollingUpdate)},
	{name: "panic", initial: configured, final: configured, starts: true, limits: panicLimits, act: panicCarrier(panicPlan{})},
	{name: "nic1-flap", initial: configured, final: configured, limits: flapLimits, act: nic1Flap},
	{name: "panic-api-faults", initial: configured, final: configured, starts: true, limits: panicLimits, act: panicCarrier(panicPlan{during: withAPIFaults})},
	{name: "reconciler-restart", initial: configured, final: configured, starts: true, pastBootGrace: true, limits: panicLimits, act: panicCarrier(panicPlan{during: withReconcilerRestart})},
	{name: "panic-rate-limited", initial: configured, final: configured, starts: true, limits: panicLimits, act: panicCarrier(panicPlan{before: withWritesSpent, during: liftRateLimit})},
	{name: "drain-hold", initial: configured, final: configured, limits: plannedLimits, act: drainHold},
	{name: "mig-update", initial: configured, final: configured, starts: true, limits: plannedLimits, act: migUpdate},
	{name: "zone-outage", initial: configured, final: configured, starts: true, limits: panicLimits, act: zoneOutage},
	{name: "reconciler-partition", initial: configured, final: configured, limits: quietLimits, act: reconcilerPartition},
	{name: "replica-split", initial: configured, final: configured, limits: quietLimits, act: replicaSplit},
}

// ScenarioNames lists the scenarios in the order the lab runs them.
func ScenarioNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// scaleTo resizes the group through the API and waits until exactly n
// forwarders route. From an empty group, traffic starts once it routes.
func scaleTo(n int) func(ctx context.Context, e *env, r *run) error {
	return func(ctx context.Context, e *env, r *run) error {
		r.mark(e, "resize to %d", n)
		if err := e.api.Groups.Resize(ctx, e.group, int64(n)); err != nil {
			return fmt.Errorf("resize: %w", err)
		}
		if err := e.waitRouting(ctx, n, 2*time.Minute); err != nil {
			return err
		}
		r.mark(e, "routing through %d", n)
		if r.load == nil {
			load, err := StartLoad(e.topo, tcpFlows)
			if err != nil {
				return fmt.Errorf("traffic: %w", err)
			}
			r.load = load
			time.Sleep(baseline)
		}
		return nil
	}
}

// rollingUpdate replaces every forwarder with `vpclink rollout`'s logic, or
// the design's own way (rollingUpdater).
func rollingUpdate(ctx context.Context, e *env, r *run) error {
	if ru, ok := e.design.(rollingUpdater); ok {
		return ru.rollingUpdate(ctx, e, r)
	}
	ops := rollout.Ops{
		Routes: e.api.Routes, Instances: e.api.Instances, Groups: e.api.Groups,
		RoutePrefix: RoutePrefix,
		Out:         e.opts.Progress,
		// nic0, as an operator's rollout probes: the lab process reaches
		// it over the health checkers' path.
		Ready: rollout.HTTPReady(agentPort, "/readyz", 800*time.Millisecond, nil),
	}
	// A rollout replaces the members not on the group's current template:
	// give the group a new one first, as applying a new image does.
	next := fmt.Sprintf("projects/%s/global/instanceTemplates/%s-%d", e.group.Project, e.group.Name, time.Now().UnixNano())
	if err := e.api.Groups.SetInstanceTemplate(ctx, e.group, next); err != nil {
		return fmt.Errorf("new template: %w", err)
	}
	r.mark(e, "rollout starts")
	err := ops.Rollout(ctx, e.group, e.opts.DrainGrace, 3*time.Minute+2*e.opts.BootDelay)
	r.mark(e, "rollout done")
	return err
}

// nic1Flap does what DHCP and network-daemon restarts do to the carrier's
// nic1: down, address flushed, and back; traffic must recover within 1 s of
// the address returning.
func nic1Flap(ctx context.Context, e *env, r *run) error {
	victim, err := e.stableCarrier(ctx, r.load)
	if err != nil {
		return err
	}
	ns := e.fwd.Namespace(victim.Name)
	nic1, err := nicOf(victim, 1)
	if err != nil {
		return err
	}
	bits, err := maskLen(nic1.Mask)
	if err != nil {
		return err
	}
	r.disturbed[instanceid.ID(victim.ID)] = true
	r.mark(e, "nic1 of %s down, address flushed", victim.Name)
	if err := ip("-n", ns, "link", "set", "nic1", "down"); err != nil {
		return err
	}
	if err := ip("-n", ns, "addr", "flush", "dev", "nic1"); err != nil {
		return err
	}
	time.Sleep(nic1FlapDown)
	if err := ip("-n", ns, "link", "set", "nic1", "up"); err != nil {
		return err
	}
	if err := ip("-n", ns, "addr", "add", fmt.Sprintf("%s/%d", nic1.IP, bits), "dev", "nic1"); err != nil {
		return err
	}
	returned := time.Now()
	r.mark(e, "nic1 of %s up", victim.Name)
	time.Sleep(after)
	r.recovery = r.load.Snapshot().UDP.RecoveryAfter(returned)
	if !e.isVPCLink() {
		// A baseline never repairs its policy routing: the forwarder
		// stays broken until someone recreates it, as an operator does
		// here once the scenario has measured.
		r.mark(e, "operator recreates %s", victim.Name)
		url := gce.Identity{Project: victim.Project, Zone: victim.Zone, Name: victim.Name}.InstanceURL()
		if err := e.api.Groups.RecreateInstances(ctx, e.group, []string{url}); err != nil {
			return fmt.Errorf("recreate %s: %w", victim.Name, err)
		}
	}
	return nil
}

// stableCarrier waits until every member carries traffic (a flow is only
// known to stay on its forwarder while the next-hop set does not change)
// and returns the one carrying the UDP stream.
func (e *env) stableCarrier(ctx context.Context, load *Load) (gcefake.Instance, error) {
	if err := e.waitRouting(ctx, len(e.members()), time.Minute); err != nil {
		return gcefake.Instance{}, fmt.Errorf("before the disruption: %w", err)
	}
	return e.carrier(load)
}
