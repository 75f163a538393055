package lab

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
)

// members returns the group's instances as the fake holds them (the lab's
// own bookkeeping; scenarios drive the group through the API).
func (e *env) members() []gcefake.Instance {
	var out []gcefake.Instance
	for _, in := range e.fake.Instances() {
		if in.Group == GroupName && in.Project == Project {
			out = append(out, in)
		}
	}
	return out
}

// settle brings the group to n healthy forwarders through the API, like an
// operator: resize, let a panicked member be recreated (by the group's
// autohealing, or by the lab where the model has none), and wait until
// exactly the members' current incarnations carry traffic.
func (e *env) settle(ctx context.Context, n int) error {
	if err := e.api.Groups.Resize(ctx, e.group, int64(n)); err != nil {
		return fmt.Errorf("resize to %d: %w", n, err)
	}
	if !e.healsItself() {
		if err := e.autoheal(ctx); err != nil {
			return err
		}
	}
	return e.waitRouting(ctx, n, e.settleTime())
}

// settleTime bounds settle's wait: a replacement's boot, announce and
// propagation with room to spare, and autohealing's own schedule.
func (e *env) settleTime() time.Duration {
	d := 3*time.Minute + e.opts.BootDelay + e.opLatency.Max + e.opts.Propagation.Max
	if h := e.spec.autoHealing; h != nil {
		d += h.InitialDelay + time.Duration(h.UnhealthyThreshold+1)*max(h.Interval, 5*time.Second)
	}
	return d
}

// healsItself reports whether the fake's group recreates panicked members
// on its own (autohealing in the design's group spec).
func (e *env) healsItself() bool { return e.spec.autoHealing != nil }

// autoheal recreates panicked members through the API: the lab plays
// autohealing where the model has none.
func (e *env) autoheal(ctx context.Context) error {
	mis, err := e.api.Groups.ListManagedInstances(ctx, e.group)
	if err != nil {
		return fmt.Errorf("autoheal: %w", err)
	}
	var urls []string
	for _, m := range mis {
		if in, ok := e.fake.Instance(Project, m.Zone, m.Name); ok && in.Panicked && instanceid.ID(in.ID) == m.ID {
			urls = append(urls, m.URL)
			e.printf("autoheal: recreating panicked %s", m.Name)
		}
	}
	if len(urls) == 0 {
		return nil
	}
	if err := e.api.Groups.RecreateInstances(ctx, e.group, urls); err != nil {
		return fmt.Errorf("autoheal: recreate: %w", err)
	}
	return nil
}

// waitRouting waits until the group has n RUNNING members whose guests run,
// every member's current incarnation has effective routes on both networks,
// and no other incarnation has any.
func (e *env) waitRouting(ctx context.Context, n int, d time.Duration) error {
	var why string
	err := waitUntil(ctx, d, fmt.Sprintf("group of %d routing", n), func() bool {
		why = e.routingProblem(n)
		return why == ""
	})
	if err != nil {
		return fmt.Errorf("%w: %s", err, why)
	}
	return nil
}

// routingProblem says why the group is not n routing forwarders, or "".
func (e *env) routingProblem(n int) string {
	ms := e.members()
	if len(ms) != n {
		return fmt.Sprintf("%d members", len(ms))
	}
	running := e.fwd.Running()
	want := map[string]bool{}
	for _, m := range ms {
		if m.Status != gcefake.StatusRunning || m.Panicked {
			return fmt.Sprintf("%s is %s (panicked %v)", m.Name, m.Status, m.Panicked)
		}
		if _, ok := running[m.ID]; !ok {
			return fmt.Sprintf("%s has no guest running", m.Name)
		}
		want[fmt.Sprintf("%s#%d", m.Name, m.ID)] = true
	}
	have := e.design.carrying(e)
	fromRoutes := have == nil
	if fromRoutes {
		have = map[string]map[string]bool{}
		for _, r := range e.routes.EffectiveRoutes() {
			if have[r.Instance] == nil {
				have[r.Instance] = map[string]bool{}
			}
			have[r.Instance][r.Network] = true
		}
	}
	for k := range have {
		if !want[k] {
			return fmt.Sprintf("traffic to %s in effect", k)
		}
	}
	for k := range want {
		if !have[k][NetworkA] || !have[k][NetworkB] {
			return fmt.Sprintf("%s has no route in effect on both networks", k)
		}
		if !fromRoutes {
			e.noteCarrying(k)
		}
		if _, ok := e.fabric.FirstRouted(k); !ok && fromRoutes {
			return fmt.Sprintf("%s not in the fabric yet", k)
		}
	}
	if len(running) != n {
		return fmt.Sprintf("%d guests running", len(running))
	}
	return ""
}

// timeToRouting is, for each member incarnation created at or after since,
// the time from its creation to its first route in effect in the fabric;
// notRouted counts those that never routed.
func (e *env) timeToRouting(since time.Time) (times []time.Duration, notRouted int) {
	for _, m := range e.members() {
		if m.CreationTimestamp.Before(since) {
			continue
		}
		k := fmt.Sprintf("%s#%d", m.Name, m.ID)
		at, ok := e.fabric.FirstRouted(k)
		if d, isFR := e.design.(firstRoutedDesign); isFR {
			at, ok = d.firstRouted(k)
		} else if !ok {
			at, ok = e.firstCarrying(k)
		}
		if !ok {
			notRouted++
			continue
		}
		times = append(times, at.Sub(m.CreationTimestamp))
	}
	return times, notRouted
}

// routesLeft counts owned routes of incarnations that are not a healthy
// member now: what a shutdown or the reconciler should have deleted.
func (e *env) routesLeft() int {
	live := map[instanceid.ID]bool{}
	for _, m := range e.members() {
		if m.Status == gcefake.StatusRunning && !m.Panicked {
			live[instanceid.ID(m.ID)] = true
		}
	}
	names := map[string]bool{} // v0.4's names carry no id: a live member's name is enough
	for _, m := range e.members() {
		if m.Status == gcefake.StatusRunning && !m.Panicked {
			names[m.Name] = true
		}
	}
	left := 0
	for _, r := range e.fake.Routes(Project) {
		if !e.design.ownsRoute(r.GetName(), r.GetDescription()) {
			continue
		}
		if id := e.design.routeID(r.GetName()); id != 0 {
			if !live[instanceid.ID(id)] {
				left++
			}
			continue
		}
		hop := r.GetNextHopInstance()
		if !names[hop[strings.LastIndex(hop, "/")+1:]] {
			left++
		}
	}
	return left
}

// groupSize counts the group's RUNNING members as the API reports them,
// minus panicked ones (RUNNING to GCE, dead to everyone else).
func (e *env) groupSize(ctx context.Context) (int, error) {
	mis, err := e.api.Groups.ListManagedInstances(ctx, e.group)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range mis {
		in, ok := e.fake.Instance(Project, m.Zone, m.Name)
		if m.Status == "RUNNING" && ok && !in.Panicked {
			n++
		}
	}
	return n, nil
}

var viaRE = regexp.MustCompile(`via (\S+)`)

// carrier returns the member whose nic0 VPC A's fabric sends the UDP stream
// to: the kernel's own multipath choice for the stream's 5-tuple.
func (e *env) carrier(load *Load) (gcefake.Instance, error) {
	if d, ok := e.design.(carrierDesign); ok {
		return d.carrier(e, load)
	}
	hop, err := nextHopOf(e.topo.VPCA(), ClientIP, ServerIP, "client", load.UDPSourcePort(), udpPort)
	if err != nil {
		return gcefake.Instance{}, err
	}
	for _, in := range e.members() {
		if len(in.NICs) > 0 && in.NICs[0].IP == hop && !in.Panicked {
			return in, nil
		}
	}
	return gcefake.Instance{}, fmt.Errorf("next hop %s is no member", hop)
}

// nextHopOf asks router's kernel where it sends a UDP packet from src:sport
// to dst:dport arriving on iif: the multipath choice for that 5-tuple.
func nextHopOf(router, src, dst, iif string, sport, dport int) (string, error) {
	out, err := ipOut("-n", router, "route", "get", dst, "from", src, "iif", iif,
		"ipproto", "udp", "sport", fmt.Sprint(sport), "dport", fmt.Sprint(dport))
	if err != nil {
		return "", err
	}
	m := viaRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("fabric %s has no next hop for %s: %s", router, dst, strings.TrimSpace(out))
	}
	return m[1], nil
}

// carries reports whether the fabric still sends anything to in: a route
// of this incarnation in effect, or its address in a router's table, unless
// a new incarnation (autohealing recreates with the same name and address)
// holds that address now.
func (e *env) carries(in gcefake.Instance) bool {
	if d, ok := e.design.(servingDesign); ok {
		return d.serving(in)
	}
	for _, r := range e.routes.EffectiveRoutes() {
		if r.Instance == fmt.Sprintf("%s#%d", in.Name, in.ID) {
			return true
		}
	}
	for _, m := range e.members() {
		if m.Name == in.Name && m.ID != in.ID {
			return false
		}
	}
	for _, nic := range in.NICs {
		for _, network := range []string{NetworkA, NetworkB} {
			for _, dest := range []string{VPCBRange, VPCARange} {
				for _, hop := range e.fabric.NextHops(network, dest) {
					if hop == nic.IP {
						return true
					}
				}
			}
		}
	}
	return false
}

// noteCarrying records when incarnation k was first seen carrying traffic
// on both networks by a design that says so itself (design.carrying): the
// fabric does not know its destinations. Seen while the lab waits for the
// group to route, so to within its 100 ms polls.
func (e *env) noteCarrying(k string) {
	e.carryingMu.Lock()
	defer e.carryingMu.Unlock()
	if e.carryingSince == nil {
		e.carryingSince = map[string]time.Time{}
	}
	if _, ok := e.carryingSince[k]; !ok {
		e.carryingSince[k] = time.Now()
	}
}

func (e *env) firstCarrying(k string) (time.Time, bool) {
	e.carryingMu.Lock()
	defer e.carryingMu.Unlock()
	t, ok := e.carryingSince[k]
	return t, ok
}
