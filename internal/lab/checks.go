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
)

// Limits are one scenario's pass marks. A zero TimeToRouting means the
// scenario starts no forwarder and has no such check; a zero Recovery means
// no recovery check.
type Limits struct {
	TimeToRouting time.Duration
	LostPackets   int
	LongestGap    time.Duration
	TCPStall      time.Duration
	Recovery      time.Duration
}

// The limits, from the earlier system's acceptance criteria and DESIGN.md's
// timing budget:
//   - planned operations (scale, rolling update) lose nothing: routes are
//     withdrawn while the forwarder still forwards;
//   - a panic costs at most 15 s of traffic, and every TCP flow resumes;
//     TCP's retransmission backoff doubles, so a flow may stall up to about
//     twice the outage;
//   - a fresh forwarder routes within 30 s (production: 180 s, with real
//     boot times; the lab boots in seconds);
//   - after nic1 flaps, traffic is back within 1 s of its address.
var (
	timeToRoutingLimit = 30 * time.Second
	plannedLimits      = Limits{TimeToRouting: timeToRoutingLimit, LostPackets: 0, LongestGap: 0, TCPStall: time.Second}
	panicLimits        = Limits{TimeToRouting: timeToRoutingLimit, LostPackets: int(15 * udpRate), LongestGap: 15 * time.Second, TCPStall: 31 * time.Second}
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
}

// Evaluate turns an observation into the scenario's checks against lim.
func Evaluate(name string, obs Observation, lim Limits) ScenarioResult {
	r := ScenarioResult{Name: name}
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
		AtMost(CheckTCPStall, Seconds(stall), Seconds(lim.TCPStall)),
		AtMost(CheckTCPStalled, float64(stalled), 0),
	)
	if lim.Recovery > 0 {
		r.Checks = append(r.Checks, AtMost(CheckRecovery, Seconds(obs.Recovery), Seconds(lim.Recovery)))
	}
	r.Checks = append(r.Checks,
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
