package lab

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
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
// does the thing, and the group must end at final.
type scenario struct {
	name    string
	initial func(o Options) int
	final   func(o Options) int
	// starts reports whether new forwarders start (scale out, replacement,
	// autohealing): then time_to_routing is checked.
	starts bool
	limits Limits
	act    func(ctx context.Context, e *env, r *run) error
}

// run is the state of one scenario run that actions share.
type run struct {
	load     *Load
	recovery time.Duration
}

func fixed(n int) func(Options) int { return func(Options) int { return n } }
func configured(o Options) int      { return o.Forwarders }

// scenarios in canonical order: DESIGN.md's list, from the earlier system's
// acceptance criteria.
var scenarios = []scenario{
	{name: "scale-0-1", initial: fixed(0), final: fixed(1), starts: true, limits: plannedLimits, act: scaleTo(1)},
	{name: "scale-1-3", initial: fixed(1), final: fixed(3), starts: true, limits: plannedLimits, act: scaleTo(3)},
	{name: "scale-3-1", initial: fixed(3), final: fixed(1), limits: plannedLimits, act: scaleTo(1)},
	{name: "rolling-update", initial: configured, final: configured, starts: true, limits: plannedLimits, act: rollingUpdate},
	{name: "panic", initial: configured, final: configured, starts: true, limits: panicLimits, act: panicCarrier(nil)},
	{name: "nic1-flap", initial: configured, final: configured, limits: flapLimits, act: nic1Flap},
	{name: "panic-api-faults", initial: configured, final: configured, starts: true, limits: panicLimits, act: panicCarrier(withAPIFaults)},
	{name: "reconciler-restart", initial: configured, final: configured, starts: true, limits: panicLimits, act: panicCarrier(withReconcilerRestart)},
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

// runScenario sets the group up, runs the scenario with traffic and
// evaluates it.
func (e *env) runScenario(ctx context.Context, sc scenario) (res ScenarioResult) {
	initial, final := sc.initial(e.opts), sc.final(e.opts)
	fail := func(err error) ScenarioResult {
		r := ScenarioResult{Name: sc.name, Error: err.Error()}
		r.Finish()
		return r
	}
	// A bug in one scenario must not cost the report of the others.
	defer func() {
		if p := recover(); p != nil {
			res = fail(fmt.Errorf("panic: %v", p))
		}
	}()
	e.printf("%s: setting the group up with %d forwarders", sc.name, initial)
	if err := e.settle(ctx, initial); err != nil {
		return fail(fmt.Errorf("setup: %w", err))
	}
	if initial > 0 {
		// Panic scenarios need victims past the reconciler's boot grace;
		// the others are measured under the same conditions. The group
		// must still route through all of them afterwards.
		e.waitOlderThan(ctx, bootGrace+time.Second)
		if err := e.waitRouting(ctx, initial, time.Minute); err != nil {
			return fail(fmt.Errorf("setup: %w", err))
		}
	}
	start := time.Now()
	r := &run{}
	if initial > 0 {
		load, err := StartLoad(e.topo, tcpFlows)
		if err != nil {
			return fail(fmt.Errorf("traffic: %w", err))
		}
		r.load = load
		time.Sleep(baseline)
	}
	actErr := sc.act(ctx, e, r)
	var m Measurement
	if r.load != nil {
		time.Sleep(after)
		m = r.load.Stop()
		e.printf("%s: udp sent %d lost %d longest gap %s", sc.name, m.UDP.Sent, m.UDP.Lost, m.UDP.LongestGap.Round(time.Millisecond))
		var stalls []string
		for _, f := range m.TCP {
			stalls = append(stalls, f.WorstStall.Round(time.Millisecond).String())
		}
		e.printf("%s: tcp worst stall per flow %v", sc.name, stalls)
	}
	if actErr == nil {
		// Whatever the action left (a panicked member) is healed and the
		// group must be back at its size, routing.
		actErr = e.settle(ctx, final)
	}
	obs := Observation{Traffic: m, Recovery: r.recovery, WantGroupSize: final}
	obs.TimeToRouting, obs.NotRouted = e.timeToRouting(start)
	// Deleting routes takes the latency model's operation time: give the
	// owners (agents, reconciler) a moment before counting leftovers.
	_ = waitUntil(ctx, 30*time.Second, "routes left", func() bool { return e.routesLeft() == 0 })
	obs.RoutesLeft = e.routesLeft()
	if n, err := e.groupSize(ctx); err == nil {
		obs.GroupSize = n
	} else if actErr == nil {
		actErr = err
	}
	lim := sc.limits
	if !sc.starts {
		lim.TimeToRouting = 0
	}
	res = Evaluate(sc.name, obs, lim)
	if actErr != nil {
		res.Error = actErr.Error()
		res.Finish()
	}
	return res
}

// waitOlderThan waits until every member is at least age old.
func (e *env) waitOlderThan(ctx context.Context, age time.Duration) {
	var youngest time.Time
	for _, m := range e.members() {
		if m.CreationTimestamp.After(youngest) {
			youngest = m.CreationTimestamp
		}
	}
	if wait := time.Until(youngest.Add(age)); wait > 0 {
		e.printf("waiting %s until every forwarder is past the reconciler's boot grace", wait.Round(time.Second))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// scaleTo resizes the group through the API and waits until exactly n
// forwarders route. From an empty group, traffic starts once it routes.
func scaleTo(n int) func(ctx context.Context, e *env, r *run) error {
	return func(ctx context.Context, e *env, r *run) error {
		e.printf("resize group %s to %d", GroupName, n)
		if err := e.api.Groups.Resize(ctx, e.group, int64(n)); err != nil {
			return fmt.Errorf("resize: %w", err)
		}
		if err := e.waitRouting(ctx, n, 2*time.Minute); err != nil {
			return err
		}
		e.printf("group routes through %d forwarders", n)
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

// rollingUpdate replaces every forwarder with `vpclink rollout`'s logic.
func rollingUpdate(ctx context.Context, e *env, r *run) error {
	ops := rollout.Ops{
		Routes: e.api.Routes, Instances: e.api.Instances, Groups: e.api.Groups,
		RoutePrefix: RoutePrefix,
		Out:         e.opts.Progress,
		// The lab probes over its management network; an operator probes nic0.
		Ready: rollout.HTTPReady(agentPort, "/readyz", 800*time.Millisecond, func(in gce.Instance) string { return e.fwd.MgmtIP(in.Name) }),
	}
	// A rollout replaces the members not on the group's current template:
	// give the group a new one first, as applying a new image does.
	next := fmt.Sprintf("projects/%s/global/instanceTemplates/%s-%d", e.group.Project, e.group.Name, time.Now().UnixNano())
	if err := e.api.Groups.SetInstanceTemplate(ctx, e.group, next); err != nil {
		return fmt.Errorf("new template: %w", err)
	}
	return ops.Rollout(ctx, e.group, e.opts.DrainGrace, 3*time.Minute)
}

// panicCarrier panics the forwarder carrying the UDP stream, with an extra
// twist (API faults, a reconciler restart) around it, and waits until the
// fabric no longer uses it and every TCP flow resumed.
func panicCarrier(twist func(ctx context.Context, e *env) (undo func())) func(ctx context.Context, e *env, r *run) error {
	return func(ctx context.Context, e *env, r *run) error {
		victim, err := e.stableCarrier(ctx, r.load)
		if err != nil {
			return err
		}
		e.printf("panic %s (id %d, nic0 %s), which carries the UDP stream", victim.Name, victim.ID, victim.NICs[0].IP)
		if err := e.fwd.Freeze(victim.Name); err != nil {
			return err
		}
		if err := e.fake.Panic(victim.Project, victim.Zone, victim.Name); err != nil {
			return err
		}
		panicked := time.Now()
		// The twists start right after the panic, when an API outage or a
		// reconciler restart hurts most: detection is under way.
		if twist != nil {
			if undo := twist(ctx, e); undo != nil {
				defer undo()
			}
		}
		if err := waitUntil(ctx, 2*time.Minute, "panicked forwarder out of the fabric", func() bool { return !e.carries(victim) }); err != nil {
			return err
		}
		e.printf("%s out of the fabric %s after the panic", victim.Name, time.Since(panicked).Round(time.Millisecond))
		if err := waitUntil(ctx, 45*time.Second, "every TCP flow resumed", func() bool {
			_, all := r.load.Snapshot().WorstStall()
			return all
		}); err != nil {
			e.printf("%v", err)
		}
		return nil
	}
}

// withAPIFaults makes 20% of every API call fail (403/429 rate limits,
// 500, 503) until the scenario ends.
func withAPIFaults(_ context.Context, e *env) func() {
	e.printf("API faults on: %.0f%% of calls fail", apiFaultRate*100)
	e.fake.SetFault(gcefake.AllMethods, gcefake.Fault{Rate: apiFaultRate, Codes: []int{403, 429, 500, 503}})
	return func() {
		e.fake.SetFault(gcefake.AllMethods, gcefake.Fault{})
		e.printf("API faults off")
	}
}

// withReconcilerRestart kills the reconciler a second into detection and
// starts it again a second later: it must finish the job from API state
// and fresh probes alone.
func withReconcilerRestart(ctx context.Context, e *env) func() {
	time.Sleep(time.Second)
	e.printf("killing the reconciler (SIGKILL)")
	e.rec.kill(syscall.SIGKILL)
	time.Sleep(time.Second)
	if err := e.rec.start(); err != nil {
		e.printf("reconciler restart: %v", err)
	}
	return nil
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
	e.printf("nic1 of %s down, address flushed", victim.Name)
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
	e.printf("nic1 of %s up with its address again", victim.Name)
	time.Sleep(after)
	r.recovery = r.load.Snapshot().UDP.RecoveryAfter(returned)
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
