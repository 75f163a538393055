package lab

import (
	"sort"
	"time"
)

// The ncc-bgp design: Network Connectivity Center router appliances. Each
// forwarder peers over BGP with a Cloud Router in each VPC, and the ranges
// it advertises are dynamic routes in that VPC while the session is up. The
// lab runs no BGP speaker; it models a session by its documented timers
// over a real TCP connection from the VPC's router namespace to the
// appliance (ncc_router.go), and the appliance side in ncc_guest.go.
//
// Timers and their sources:
//   - keepalive 20 s: compute v1 RouterBgp.keepaliveInterval ("the interval
//     in seconds between BGP keepalive messages that are sent to the peer
//     ... between 20 and 60. The default is 20").
//   - hold time 3 × keepalive, 60 s: same field ("Hold time is three times
//     the interval at which keepalive messages are sent ... the maximum
//     number of seconds allowed to elapse between successive keepalive
//     messages that BGP receives from a peer").
//   - no BFD: Cloud Router supports BFD on Cloud Interconnect VLAN
//     attachments only, not on router appliances or HA VPN (Cloud Router
//     BFD overview); a frozen appliance is noticed by the hold timer alone.
//   - a clean stop withdraws at once: the appliance's BGP speaker ends its
//     sessions with a NOTIFICATION (Cease) before the VM stops (RFC 4271
//     §6.7); the lab's router sees the connection closed or refused.
//   - dynamic routes are ECMP across the appliances whose sessions are up
//     when their priorities (the MED the appliances send) are equal: all
//     appliances here send the same, nccRoutePriority.
//   - propagation: a learned or withdrawn route reaches the VPC's data
//     plane after the profile's propagation delay (the VPC routes overview
//     calls route programming eventually consistent and gives no figure;
//     the profile states its choice). The same delay as custom routes: no
//     design is favoured.
//   - connect retry: the lab's router dials an appliance every second until
//     a session is up (RFC 4271 suggests a 120 s ConnectRetry timer, but an
//     appliance's speaker opens the session itself as soon as it starts;
//     Google publishes no figure). This only shortens time to routing.
const (
	nccKeepalive     = 20 * time.Second
	nccHoldFactor    = 3
	nccBGPPort       = 179
	nccConnectRetry  = time.Second
	nccRoutePriority = 100
)

// Session states, as a Cloud Router reports a BGP peer's status.
const (
	bgpIdle        = "IDLE"
	bgpEstablished = "ESTABLISHED"
)

// bgpSession is the Cloud Router's view of one BGP session: established
// when the connection opens, down when the peer closes it (NOTIFICATION or
// reset) or when nothing was heard for the hold time. Time comes in from
// the caller: the state machine has no clock of its own.
type bgpSession struct {
	keepalive time.Duration
	state     string
	heard     time.Time // last keepalive (or open) heard
	downWhy   string
}

func newBGPSession(keepalive time.Duration) *bgpSession {
	return &bgpSession{keepalive: keepalive, state: bgpIdle}
}

// hold is the hold time: three keepalives.
func (s *bgpSession) hold() time.Duration { return nccHoldFactor * s.keepalive }

// open is the connection up and OPENs exchanged.
func (s *bgpSession) open(now time.Time) {
	s.state, s.heard, s.downWhy = bgpEstablished, now, ""
}

// heardAt records a keepalive from the peer; it restarts the hold timer.
func (s *bgpSession) heardAt(now time.Time) {
	if s.state == bgpEstablished && now.After(s.heard) {
		s.heard = now
	}
}

// closed is the peer ending the session: down at once.
func (s *bgpSession) closed(why string) bool { return s.down(why) }

// tick reports whether the hold timer expired at now, which ends the
// session.
func (s *bgpSession) tick(now time.Time) bool {
	if s.state != bgpEstablished || now.Sub(s.heard) < s.hold() {
		return false
	}
	return s.down("hold timer expired")
}

// down ends an established session and reports whether it was one.
func (s *bgpSession) down(why string) bool {
	if s.state != bgpEstablished {
		return false
	}
	s.state, s.downWhy = bgpIdle, why
	return true
}

// nccAdvert is one change of a peer's routes in a VPC: on (learned) or off
// (withdrawn), in the data plane at At.
type nccAdvert struct {
	At    time.Time
	Peer  string // network/address
	Route FabricRoute
	On    bool
}

// nccRIB is the dynamic routes of the VPCs over time: every learn and
// withdraw with the moment it reaches the data plane. Changes of one peer
// take effect in the order they happened, whatever their delays.
type nccRIB struct {
	adverts []nccAdvert
	last    map[string]time.Time // peer -> when its latest change takes effect
}

// change records a learn (on) or withdraw of peer's route decided at now,
// in effect after delay, and returns when it takes effect.
func (r *nccRIB) change(peer string, route FabricRoute, on bool, now time.Time, delay time.Duration) time.Time {
	if r.last == nil {
		r.last = map[string]time.Time{}
	}
	at := now.Add(delay)
	if prev := r.last[peer]; at.Before(prev) {
		at = prev
	}
	r.last[peer] = at
	r.adverts = append(r.adverts, nccAdvert{At: at, Peer: peer, Route: route, On: on})
	return at
}

// effective returns the routes in the data plane at now, sorted.
func (r *nccRIB) effective(now time.Time) []FabricRoute {
	state := map[string]nccAdvert{}
	for _, a := range r.adverts {
		if a.At.After(now) {
			continue
		}
		if cur, ok := state[a.Peer]; !ok || !a.At.Before(cur.At) {
			state[a.Peer] = a
		}
	}
	var out []FabricRoute
	for _, a := range state {
		if a.On {
			out = append(out, a.Route)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Network != out[j].Network {
			return out[i].Network < out[j].Network
		}
		return out[i].NextHop < out[j].NextHop
	})
	return out
}
