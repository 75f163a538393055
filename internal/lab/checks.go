package lab

import (
	"time"
)

// Check names, as DESIGN.md and tools reading the JSON know them.
const (
	CheckTimeToRouting = "time_to_routing_s"
	CheckLostPackets   = "lost_packets"
	CheckLongestGap    = "longest_gap_s"
	CheckTCPStall      = "tcp_worst_stall_s"
	CheckTCPStalled    = "tcp_flows_stalled" // flows that never resumed
	CheckRoutesLeft    = "routes_left"
	CheckGroupSize     = "group_size"
	CheckRecovery      = "recovery_s" // nic1-flap: traffic back after the address returned
	CheckFloor         = "floor_s"    // what physics and GCE force on an unplanned failure
	CheckOverhead      = "overhead_s" // longest_gap_s − floor_s: what vpclink adds
	CheckHealthyPruned = "healthy_pruned"
	CheckRoutesDeleted = "routes_deleted" // successful deletes during a scenario where nothing dies
	CheckRouteChurn    = "route_churn"    // inserts plus deletes during a scenario where nothing dies
	// CheckNewFlowGap is the longest time new short-lived flows (a fresh
	// source port every 50 ms) got no answer: those hashed to the failed
	// forwarder. Its limit is the longest gap's.
	CheckNewFlowGap = "new_flow_gap_s"
)

// overheadLimit is vpclink's budget over the floor (DESIGN.md's timing
// budget): at most 2 s in every scenario and at every operation latency.
const overheadLimit = 2 * time.Second

// Limits are one scenario's pass marks. A zero TimeToRouting means the
// scenario starts no forwarder and has no such check; a zero Recovery means
// no recovery check. Unplanned marks a scenario with an unplanned failure:
// it is measured against its floor.
type Limits struct {
	TimeToRouting time.Duration
	LostPackets   int
	LongestGap    time.Duration
	TCPStall      time.Duration
	Recovery      time.Duration
	Unplanned     bool
	// NothingDies marks a scenario that kills nothing (a partition): every
	// route operation during it is churn, and none may happen.
	NothingDies bool
}

// The limits, from the earlier system's acceptance criteria and DESIGN.md's
// timing budget:
//   - planned operations (scale, rolling update) lose nothing: routes are
//     withdrawn while the forwarder still forwards;
//   - a panic costs at most 15 s of traffic, or the floor plus vpclink's
//     overhead budget where GCE's operations and propagation alone take
//     longer (the earlier system's 15 s was measured at seconds-long
//     operations); every TCP flow resumes, and as TCP's retransmission
//     backoff doubles, a flow may stall up to about twice the outage;
//   - a fresh forwarder routes within 30 s, or within boot + the slowest
//     operation + the slowest propagation + 10 s for guest and agent start
//     where the model's boot and operations take longer (production's mark
//     is 180 s);
//   - after nic1 flaps, traffic is back within 1 s of its address.
var (
	timeToRoutingLimit = 30 * time.Second
	plannedLimits      = Limits{TimeToRouting: timeToRoutingLimit, LostPackets: 0, LongestGap: 0, TCPStall: time.Second}
	panicLimits        = Limits{TimeToRouting: timeToRoutingLimit, LostPackets: int(15 * udpRate), LongestGap: 15 * time.Second, TCPStall: 31 * time.Second, Unplanned: true}
	flapLimits         = Limits{LostPackets: int(nic1FlapDown.Seconds()+1) * udpRate, LongestGap: nic1FlapDown + time.Second, TCPStall: 2*nic1FlapDown + 2*time.Second, Recovery: time.Second}
)

// Observation is what a scenario measured.
type Observation struct {
	// TimeToRouting is, per forwarder the scenario started, the time from
	// the instance's creation to its first route in effect in the fabric.
	TimeToRouting []time.Duration
	// NotRouted counts forwarders the scenario started that never routed.
	NotRouted     int
	Traffic       Measurement
	RoutesLeft    int
	GroupSize     int
	WantGroupSize int
	Recovery      time.Duration
	// Floor of the unplanned failure, FloorLimit the most the model allows
	// it to be, FloorErr why there is none.
	Floor      time.Duration
	FloorLimit time.Duration
	FloorErr   error
	// HealthyPruned counts deleted routes of forwarders the scenario did
	// not disturb.
	HealthyPruned int
	// RoutesDeleted and RouteChurn count the successful deletes, and the
	// inserts plus deletes, issued while the scenario ran.
	RoutesDeleted int
	RouteChurn    int
}

// withFloor returns lim with the outage limits raised to the floor plus
// vpclink's overhead budget where that is above them.
func (lim Limits) withFloor(floor time.Duration) Limits {
	if gap := floor + overheadLimit; gap > lim.LongestGap {
		lim.LongestGap = gap
		lim.LostPackets = int(gap.Seconds() * udpRate)
		lim.TCPStall = 2*gap + time.Second
	}
	return lim
}

// Evaluate turns an observation into the scenario's checks against lim.
func Evaluate(name string, obs Observation, lim Limits) ScenarioResult {
	r := ScenarioResult{Name: name}
	if lim.Unplanned && obs.FloorErr == nil {
		lim = lim.withFloor(obs.Floor)
	}
	if lim.TimeToRouting > 0 {
		var worst time.Duration
		for _, d := range obs.TimeToRouting {
			worst = max(worst, d)
		}
		c := AtMost(CheckTimeToRouting, Seconds(worst), Seconds(lim.TimeToRouting))
		if obs.NotRouted > 0 || len(obs.TimeToRouting) == 0 {
			c.OK = false // a forwarder that never routed has no time
		}
		r.Checks = append(r.Checks, c)
	}
	stall, _ := obs.Traffic.WorstStall()
	stalled := 0
	for _, t := range obs.Traffic.TCP {
		if !t.Resumed {
			stalled++
		}
	}
	r.Checks = append(r.Checks,
		AtMost(CheckLostPackets, float64(obs.Traffic.UDP.Lost), float64(lim.LostPackets)),
		AtMost(CheckLongestGap, Seconds(obs.Traffic.UDP.LongestGap), Seconds(lim.LongestGap)),
	)
	if lim.Unplanned {
		floor := AtMost(CheckFloor, Seconds(obs.Floor), Seconds(obs.FloorLimit))
		overhead := AtMost(CheckOverhead, Seconds(obs.Traffic.UDP.LongestGap-obs.Floor), Seconds(overheadLimit))
		if obs.FloorErr != nil {
			// No floor: the failure's routes were never deleted.
			floor.OK, overhead.OK = false, false
		}
		r.Checks = append(r.Checks, floor, overhead)
	}
	r.Checks = append(r.Checks,
		AtMost(CheckTCPStall, Seconds(stall), Seconds(lim.TCPStall)),
		AtMost(CheckTCPStalled, float64(stalled), 0),
		AtMost(CheckNewFlowGap, Seconds(obs.Traffic.NewFlows.LongestGap), Seconds(lim.LongestGap)),
	)
	if lim.Recovery > 0 {
		r.Checks = append(r.Checks, AtMost(CheckRecovery, Seconds(obs.Recovery), Seconds(lim.Recovery)))
	}
	if lim.NothingDies {
		r.Checks = append(r.Checks,
			AtMost(CheckRoutesDeleted, float64(obs.RoutesDeleted), 0),
			AtMost(CheckRouteChurn, float64(obs.RouteChurn), 0))
	}
	r.Checks = append(r.Checks,
		AtMost(CheckHealthyPruned, float64(obs.HealthyPruned), 0),
		AtMost(CheckRoutesLeft, float64(obs.RoutesLeft), 0),
		Exactly(CheckGroupSize, float64(obs.GroupSize), float64(obs.WantGroupSize)),
	)
	// A scenario whose traffic never ran measured nothing: that is no pass.
	if obs.Traffic.UDP.Sent == 0 || len(obs.Traffic.TCP) == 0 {
		r.Error = "no traffic was measured"
	}
	r.Finish()
	return r
}
