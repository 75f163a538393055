package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
)

// run is the state of one scenario run that actions share and the
// evaluation reads.
type run struct {
	sc       scenario
	start    time.Time // the group is set up; the scenario begins
	load     *Load
	recovery time.Duration
	events   []Event
	// members are the incarnations at the start, disturbed those the
	// scenario disturbs on purpose (a panic's or a flap's victim).
	members   map[instanceid.ID]string
	disturbed map[instanceid.ID]bool
	failure   *failure
	// writesBlockedUntil is when the API accepts writes again after a
	// twist spent the write budget (zero: it never refused them).
	writesBlockedUntil time.Time
	// extra are checks the action measured itself (routes_restored, ...).
	extra []Check
}

// failure is a scenario's unplanned failure, for its floor.
type failure struct {
	at     time.Time
	victim gcefake.Instance
	// routes are the victim's routes that carried the UDP stream: the
	// outage ends when the last of them is out of the data plane.
	routes []string
	// blocked is when the API accepts writes again (zero: it never
	// refused them).
	blocked time.Time
}

// mark records a lab action on the run's timeline and prints it.
func (r *run) mark(e *env, format string, args ...any) {
	label := fmt.Sprintf(format, args...)
	r.events = append(r.events, Event{At: time.Now(), Kind: EventAction, Label: label})
	e.printf("%s: %s", r.sc.name, label)
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
		if sc.pastBootGrace {
			// A restarted reconciler rightly leaves a forwarder within
			// its boot grace alone: the victim must be older.
			e.waitOlderThan(ctx, e.opts.BootGrace+time.Second)
		}
		if err := e.waitRouting(ctx, initial, time.Minute); err != nil {
			return fail(fmt.Errorf("setup: %w", err))
		}
	}
	r := &run{sc: sc, start: time.Now(), members: map[instanceid.ID]string{}, disturbed: map[instanceid.ID]bool{}}
	for _, m := range e.members() {
		r.members[instanceid.ID(m.ID)] = m.Name
	}
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
		e.printf("%s: new flows opened %d unanswered %d, longest gap for new flows %s", sc.name, m.NewFlows.Opened, m.NewFlows.Unanswered, m.NewFlows.LongestGap.Round(time.Millisecond))
	}
	end := time.Now()
	if actErr == nil {
		// Whatever the action left (a panicked member) is healed and the
		// group must be back at its size, routing.
		actErr = e.settle(ctx, final)
	}
	obs := Observation{Traffic: m, Recovery: r.recovery, WantGroupSize: final}
	obs.TimeToRouting, obs.NotRouted = e.timeToRouting(r.start)
	// Deleting routes takes the latency model's operation time: give the
	// owners (agents, reconciler) a moment before counting leftovers.
	_ = waitUntil(ctx, e.opLatency.Max+e.opts.Propagation.Max+30*time.Second, "routes left", func() bool { return e.routesLeft() == 0 })
	obs.RoutesLeft = e.routesLeft()
	if n, err := e.groupSize(ctx); err == nil {
		obs.GroupSize = n
	} else if actErr == nil {
		actErr = err
	}
	rec := e.record()
	obs.HealthyPruned = e.healthyPruned(r, rec)
	obs.RoutesDeleted, obs.RouteChurn = rec.mutations(r.start, end)
	var floorParts []FloorPart
	if f := r.failure; f != nil {
		obs.Floor, floorParts, obs.FloorErr = Floor(FloorInput{Failure: f.at, Detection: detection, Blocked: f.blocked, Routes: f.routes, Ops: rec.ops, Changes: rec.changes})
		obs.FloorLimit = max(detection, f.blocked.Sub(f.at)) + e.opLatency.Max + e.opts.Propagation.Max + floorSlack
		e.printFloor(sc.name, f.at, obs, floorParts)
	}
	lim := sc.limits
	lim.TimeToRouting = max(lim.TimeToRouting, e.opts.BootDelay+e.opLatency.Max+e.opts.Propagation.Max+10*time.Second)
	if !sc.starts {
		lim.TimeToRouting = 0
	}
	res = Evaluate(sc.name, obs, lim)
	res.Checks = append(res.Checks, r.extra...)
	res.Finish()
	if actErr != nil {
		res.Error = actErr.Error()
		res.Finish()
	}
	if r.load != nil {
		e.picture(r, m, end, rec, obs)
	}
	return res
}

// floorSlack is what the floor may exceed the model's worst case by: the
// fake's timers and its effective-route log run a scheduling delay late.
const floorSlack = 250 * time.Millisecond

// printFloor says what the floor is made of.
func (e *env) printFloor(name string, failed time.Time, obs Observation, parts []FloorPart) {
	if obs.FloorErr != nil {
		e.printf("%s: no floor: %v", name, obs.FloorErr)
		return
	}
	for _, p := range parts {
		e.printf("%s: floor via %s: delete issued %s after the failure, DONE after %s, out of the data plane %s later: %s",
			name, e.routeLabel(p.Route), p.Delete.Issued.Sub(failed).Round(time.Millisecond),
			p.Delete.Done.Sub(p.Delete.Issued).Round(time.Millisecond), p.Propagation.Round(time.Millisecond), p.Floor.Round(time.Millisecond))
	}
	e.printf("%s: floor %s, longest gap %s, overhead %s", name, obs.Floor.Round(time.Millisecond),
		obs.Traffic.UDP.LongestGap.Round(time.Millisecond), (obs.Traffic.UDP.LongestGap - obs.Floor).Round(time.Millisecond))
}

// waitOlderThan waits until every member last started at least age ago
// (the reconciler's boot grace counts from lastStartTimestamp).
func (e *env) waitOlderThan(ctx context.Context, age time.Duration) {
	var youngest time.Time
	for _, m := range e.members() {
		youngest = maxTime(youngest, m.CreationTimestamp, m.LastStartTimestamp)
	}
	if wait := time.Until(youngest.Add(age)); wait > 0 {
		e.printf("waiting %s until every forwarder is past the reconciler's boot grace", wait.Round(time.Second))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func maxTime(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
