package routeplan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vpclink/vpclink/internal/corroborate"
)

// Choices of this phase (DESIGN.md invariant 5, package corroborate):
//
//   - A route pending on probe evidence is pruned only when the subject's
//     Judgement (Input.Judgements, the other vantage points' view gathered
//     by the caller) is Down: enough fresh peers saw no answer either. No
//     judgement, a stale one, or peers that saw it answer: the route is held
//     (RouteHeld) and the forwarder listed in Decision.Uncorroborated with the
//     reason. A reconciler cut off from the forwarders reaches no peer either,
//     so it deletes nothing; a correlated failure of most of a group is
//     pruned as soon as one live peer agrees, whatever fraction is left.
//   - minHealthyFraction no longer holds prunes: a fraction cannot tell a
//     partition from a zone outage. The key stays valid and is ignored.
//   - A forwarder that answers its probe with an error status (its agent
//     says it cannot forward: data plane broken) testifies for itself: no
//     partition between the prober and the forwarder can produce an answer,
//     so its prune needs no peer. Only silence (no answer) needs a second
//     vantage point. Starting and draining answers are no failures at all.
//   - A group of one is never pruned on probe evidence: it has no peer to
//     ask. The reason says so.
//   - FailStatic is kept as the summary of the holds: Engaged while at least
//     one forwarder's probe prune is held for lack of corroboration.

// Held is a forwarder whose probe-evidence prune waits for corroboration.
type Held struct {
	Group    string
	Instance string
	Reason   string
}

// applyCorroboration turns pending probe prunes into deletes where a second
// vantage point agrees, and holds them elsewhere.
func (p *planner) applyCorroboration() {
	held := map[string]Held{} // by instance name
	groups := map[string]bool{}
	for _, pp := range p.pending {
		m := pp.m
		j, judged := p.in.Judgements[m.ID]
		reason := ""
		switch {
		case p.counts[m.Group] != nil && p.counts[m.Group].members == 1:
			reason = fmt.Sprintf("group %s: its one forwarder %s is unhealthy: a group of one is never pruned on probe evidence (no peer to corroborate), only on API evidence", m.Group, m.Name)
		case m.probe.Answered:
			p.prune(pp.route, m.Group, m.Name, m.ID, EvidenceProbe, fmt.Sprintf(
				"%d consecutive failed probes, the forwarder itself answers that it cannot forward", m.probe.ConsecutiveFailures))
			continue
		case !judged:
			// No count in the reason: it is logged when it changes.
			reason = m.Name + ": probes fail, no peer could be asked (none reachable and healthy) or none answered yet: not corroborated"
		case !j.Down:
			reason = m.Name + ": " + j.Reason
		}
		if reason != "" {
			p.routeStates[RouteHeld]++
			held[m.Name] = Held{Group: m.Group, Instance: m.Name, Reason: reason}
			groups[m.Group] = true
			continue
		}
		why := fmt.Sprintf("%d consecutive failed probes, corroborated by %s", m.probe.ConsecutiveFailures, strings.Join(j.Agree, ", "))
		p.prune(pp.route, m.Group, m.Name, m.ID, EvidenceProbe, why)
	}
	var reasons []string
	for _, name := range sortedKeys(held) {
		p.held = append(p.held, held[name])
		reasons = append(reasons, held[name].Reason)
	}
	p.failStatic = FailStatic{Engaged: len(p.held) > 0, Reason: strings.Join(reasons, "; "), Groups: sortedKeys(groups)}
}

// judgementOf returns the other vantage points' judgement on id, if any.
func (p *planner) judgementOf(m *member) *corroborate.Judgement {
	j, ok := p.in.Judgements[m.ID]
	if !ok {
		return nil
	}
	return &j
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
