package routeplan

import (
	"fmt"
	"sort"
	"strings"
)

// Choices of this phase:
//
//   - Probe evidence and fail static are judged per group (the counts come
//     from members.go). Fail static is engaged for a group when its healthy
//     fraction is below minHealthyFraction and at least one member is
//     Unhealthy; its pending probe prunes are then held (RouteHeld), the
//     others issued.
//   - A group of one is never pruned on probe evidence: 0 of 1 healthy is
//     below any minHealthyFraction above 0, and one vantage point cannot
//     tell a dead forwarder from a cut path. The reason says so.

// applyFailStatic turns pending probe prunes into deletes for the groups that
// keep enough healthy forwarders, and holds them elsewhere (invariant 5).
func (p *planner) applyFailStatic() {
	minFraction := 0.5
	if f := p.in.Config.MinHealthyFraction; f != nil {
		minFraction = *f
	}
	var reasons []string
	for _, g := range sortedKeys(p.counts) {
		c := p.counts[g]
		total := c.total
		if c.unhealthy == 0 || float64(c.healthy) >= minFraction*float64(total) {
			continue
		}
		p.failStatic.Groups = append(p.failStatic.Groups, g)
		if total == 1 {
			reasons = append(reasons, fmt.Sprintf("group %s: its one forwarder is unhealthy: a group of one is never pruned on probe evidence, only on API evidence", g))
			continue
		}
		reasons = append(reasons, fmt.Sprintf("group %s: %d of %d probed RUNNING forwarders healthy without a failure, below minHealthyFraction %g: not pruning %d unhealthy on probes",
			g, c.healthy, total, minFraction, c.unhealthy))
	}
	p.failStatic.Engaged = len(p.failStatic.Groups) > 0
	p.failStatic.Reason = strings.Join(reasons, "; ")
	held := map[string]bool{}
	for _, g := range p.failStatic.Groups {
		held[g] = true
	}
	for _, pp := range p.pending {
		if held[pp.m.Group] {
			p.routeStates[RouteHeld]++
			continue
		}
		reason := fmt.Sprintf("%d consecutive failed probes", pp.m.probe.ConsecutiveFailures)
		p.prune(pp.route, pp.m.Group, pp.m.Name, pp.m.ID, EvidenceProbe, reason)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
