package lab

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The ilb design: the earlier team's v1.x (openinfrastructure/
// terraform-google-multinic, modules/52_regional_multinic/main.tf and
// README.md). One route per range whose next hop is an internal passthrough
// Network Load Balancer; one load balancer per VPC, the MIG's members its
// backends. The lab has no load balancer, so it models one on each VPC's
// router (ilb_router.go programs it, ilb_control.go runs its health checks).
//
// What the model does, with Google's documentation as source ("Traffic
// distribution for internal passthrough Network Load Balancers",
// cloud.google.com/load-balancing/docs/internal/int-netlb-traffic-distribution,
// and the BackendService connectionTrackingPolicy reference, read 2026-12-03):
//   - A new connection goes to a backend chosen by a 5-tuple hash (session
//     affinity NONE, the default) among the backends passing the load
//     balancer's health check; when none passes, among all backends, "as a
//     last resort".
//   - The choice is kept in a connection tracking table (tracking mode
//     PER_CONNECTION, the default), so established flows stay on their
//     backend when the healthy set changes.
//   - Connection persistence on unhealthy backends, DEFAULT_FOR_PROTOCOL:
//     established TCP connections persist on a backend that turns
//     unhealthy; UDP flows do not, they are diverted to a newly selected
//     healthy backend (unless all backends are unhealthy).
//   - A backend leaves the load balancer when the MIG removes the instance
//     (delete, recreate, autohealing: the instance stops being RUNNING).
//     Connection draining applies then ("Enable connection draining"); the
//     earlier team's backend services set no draining timeout, and a
//     recreate that took 30–40 s in their figures leaves no room for one, so
//     the choice is a timeout of 0: the removed backend's flows are selected
//     anew at once, TCP included, and a stateless forwarder carries them on
//     without a disconnect.
//
// Health checks, from the same module: the traffic check the load
// balancers use (multinic-traffic: HTTP /status.json on port 9001, every
// 3 s, 2 s timeout, 2 healthy, 2 unhealthy), and the MIG's autohealing
// check (multinic-health: port 9000, every 10 s, 5 s timeout, 2 healthy, 3
// unhealthy; initial delay 60 s, modules/50_compute variables.tf
// hc_initial_delay_secs). Each load balancer checks the backend's NIC in its
// own network (README "Health Checks").
const (
	ilbTrafficPort      = 9001
	ilbHealthPort       = 9000
	ilbCheckPath        = "/status.json"
	ilbCheckInterval    = 3 * time.Second
	ilbCheckTimeout     = 2 * time.Second
	ilbHealthyThreshold = 2
	ilbUnhealthyThresh  = 2
	ilbHealInterval     = 10 * time.Second
	ilbHealTimeout      = 5 * time.Second
	ilbHealHealthy      = 2
	ilbHealUnhealthy    = 3
	ilbHealInitialDelay = 60 * time.Second
	// ilbShutdownSleep: the shutdown script stops the traffic check's
	// responder and sleeps 20 s "for LB to drain" (shutdown-multinic.sh).
	ilbShutdownSleep = 20 * time.Second
)

// ilbCheck is one backend's traffic health check state as the load
// balancer keeps it: consecutive results against the thresholds. A new
// backend starts unhealthy and must pass healthyThreshold checks first.
type ilbCheck struct {
	ok, fail int
	healthy  bool
}

// record counts one probe result and reports whether the verdict changed.
func (c *ilbCheck) record(pass bool) bool {
	was := c.healthy
	if pass {
		c.ok++
		c.fail = 0
		if c.ok >= ilbHealthyThreshold {
			c.healthy = true
		}
	} else {
		c.fail++
		c.ok = 0
		if c.fail >= ilbUnhealthyThresh {
			c.healthy = false
		}
	}
	return c.healthy != was
}

// ilbBackend is one backend as one load balancer sees it.
type ilbBackend struct {
	Key     string // incarnation, name#id
	IP      string // its address in the load balancer's network
	Mark    uint32 // packet and connection mark of flows sent to it
	Healthy bool
}

// ilbPlan is what a router must do for a set of backends: which
// established flows stay where they are, and over which backends new (or
// diverted) flows are spread, in hash-slot order.
type ilbPlan struct {
	KeepTCP []uint32          // marks whose established TCP flows stay
	Keep    []uint32          // marks whose other established flows stay
	Select  []uint32          // marks new flows are spread over
	Hops    map[uint32]string // mark -> backend address
}

// planILB decides the plan for backends (the members now). Pure.
func planILB(backends []ilbBackend) ilbPlan {
	p := ilbPlan{Hops: map[uint32]string{}}
	var healthy, all []uint32
	for _, b := range backends {
		all = append(all, b.Mark)
		p.Hops[b.Mark] = b.IP
		if b.Healthy {
			healthy = append(healthy, b.Mark)
		}
	}
	slices.Sort(all)
	slices.Sort(healthy)
	p.KeepTCP = all
	if len(healthy) == 0 {
		// Last resort: every backend takes new connections, and nothing is
		// diverted since there is nowhere better to go.
		p.Keep, p.Select = all, all
		return p
	}
	p.Keep, p.Select = healthy, healthy
	return p
}

// ilbTable is the nftables table the model owns in a router namespace.
const ilbTable = "vpclink_ilb"

// nft renders the plan as an nftables script for a router: traffic to dest
// that does not come from the backends' own segment (fromBackends, the
// bridge the forwarders hang on) gets its connection's backend mark
// restored if the flow may stay, or a new one by a 5-tuple hash; the mark
// selects the backend's routing table. One `nft -f` transaction flushes and
// refills the sets and the chain: packets see the old rules or the new,
// never none (deleting the table instead unhooks the chain for a moment,
// and flows stall). Conntrack keeps the marks, so replacing the rules never
// moves an established flow by itself.
func (p ilbPlan) nft(dest, fromBackends string) string {
	var b strings.Builder
	t := "ip " + ilbTable
	fmt.Fprintf(&b, "table %s {\n\tset keep_tcp { type mark; }\n\tset keep { type mark; }\n", t)
	b.WriteString("\tchain pre { type filter hook prerouting priority mangle; policy accept; }\n}\n")
	fmt.Fprintf(&b, "flush set %s keep_tcp\nflush set %s keep\nflush chain %s pre\n", t, t, t)
	if len(p.KeepTCP) > 0 {
		fmt.Fprintf(&b, "add element %s keep_tcp { %s }\n", t, marks(p.KeepTCP))
	}
	if len(p.Keep) > 0 {
		fmt.Fprintf(&b, "add element %s keep { %s }\n", t, marks(p.Keep))
	}
	rule := func(format string, args ...any) {
		fmt.Fprintf(&b, "add rule %s pre "+format+"\n", append([]any{t}, args...)...)
	}
	rule("iifname %q return", fromBackends)
	rule("ip daddr != %s return", dest)
	rule("meta l4proto tcp ct mark @keep_tcp meta mark set ct mark return")
	rule("ct mark @keep meta mark set ct mark return")
	if len(p.Select) > 0 {
		var slots []string
		for i, m := range p.Select {
			slots = append(slots, fmt.Sprintf("%d : %#x", i, m))
		}
		rule("meta mark set jhash ip saddr . ip daddr . meta l4proto . th sport . th dport mod %d seed 0x5eed map { %s }",
			len(p.Select), strings.Join(slots, ", "))
		rule("ct mark set meta mark")
	}
	return b.String()
}

func marks(ms []uint32) string {
	var s []string
	for _, m := range ms {
		s = append(s, fmt.Sprintf("%#x", m))
	}
	return strings.Join(s, ", ")
}

// Marks are 0x100.. 0x1ff; each is also the number of the backend's
// routing table in the router.
const (
	ilbMarkFirst = 0x100
	ilbMarkCount = 0x100
)

// nextMark returns the first mark after last that inUse does not hold, so
// that a new incarnation never inherits a removed one's flows.
func nextMark(last uint32, inUse map[uint32]bool) (uint32, error) {
	for i := uint32(1); i <= ilbMarkCount; i++ {
		m := ilbMarkFirst + (last-ilbMarkFirst+i)%ilbMarkCount
		if !inUse[m] {
			return m, nil
		}
	}
	return 0, fmt.Errorf("ilb: all %d backend marks in use", ilbMarkCount)
}
