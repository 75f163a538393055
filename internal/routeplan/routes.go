package routeplan

import (
	"fmt"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// Choices of this phase:
//
//   - Scope. A route is considered only when naming.IsOwned holds (prefix and
//     marker), and then only when it is ours to judge: its instance id is a
//     member of one of the configured groups, or its marker names one of those
//     groups, or its marker has no group and names a zone we listed. Owned
//     routes of other shards (other groups) are never in the decision.
//   - A route whose instance id is not a member of the group any more (gone,
//     abandoned, or an older incarnation) is pruned on API evidence.
//   - Stale incarnations (a member with the marker's instance name exists with
//     another id). The old route can never forward to its VM again, so it is
//     pruned on API evidence. "New before old" is kept where it can matter:
//     when the new incarnation is Healthy and its /status asks for the same
//     range whose route is missing, restore inserts the new route and the
//     stale delete carries After = that insert's name, so the reconciler runs
//     it only once the insert is DONE. When the new incarnation is not
//     Healthy (still booting, say) nothing routes through it, and waiting
//     would only keep a blackhole alive: the stale route goes at once.
//   - A route of an Unhealthy member is pending: failstatic.go decides.

// pendingProbe is a route that probe evidence would prune, if fail static
// allows it for the group.
type pendingProbe struct {
	m     *member
	route gce.Route
}

// judgeRoutes classifies every owned route in scope.
func (p *planner) judgeRoutes() {
	x := &p.idx
	for _, r := range p.in.Routes {
		// Invariant 1: both the name shape and the marker (naming.IsOwned),
		// or the route is not ours and never in the decision.
		parsed, err := naming.ParseName(p.prefix, r.Name)
		if err != nil {
			continue
		}
		marker, err := naming.ParseDescription(r.Description)
		if err != nil {
			continue
		}
		p.ownedNames[r.Name] = true

		if m := x.memberByID[parsed.InstanceID]; m != nil {
			m.Routes = append(m.Routes, r.Name)
			switch {
			case m.Evidence != "":
				p.prune(r, m.Group, m.Name, m.ID, EvidenceAPI, m.Evidence)
			case m.Health == Unhealthy:
				p.pending = append(p.pending, pendingProbe{m: m, route: r})
			default:
				p.routeStates[RouteActive]++
			}
			continue
		}

		inScope := x.groups[marker.Group] || (marker.Group == "" && x.listedZones[marker.Zone])
		if !inScope {
			continue // another shard's route
		}
		id := parsed.InstanceID
		if cur := x.memberByZoneName[zoneName(marker.Zone, marker.Instance)]; cur != nil && cur.ID != 0 {
			reason := fmt.Sprintf("instance %s was recreated: route is for id %d, current id is %d", marker.Instance, id, cur.ID)
			p.prune(r, marker.Group, marker.Instance, id, EvidenceStale, reason)
			byHash := p.staleByHash[cur.ID]
			if byHash == nil {
				byHash = map[string][]string{}
				p.staleByHash[cur.ID] = byHash
			}
			byHash[parsed.Hash] = append(byHash[parsed.Hash], r.Name)
			continue
		}
		reason := fmt.Sprintf("instance %s (id %d) no longer exists", marker.Instance, id)
		if inst := x.instByID[id]; inst != nil {
			reason = fmt.Sprintf("instance %s (id %d) is not a member of group %s", inst.Name, id, marker.Group)
		}
		p.prune(r, marker.Group, marker.Instance, id, EvidenceAPI, reason)
	}
}

func (p *planner) prune(r gce.Route, group, instance string, id instanceid.ID, ev Evidence, reason string) {
	p.add(Action{
		Op: OpDelete, Route: r, Reason: reason, Evidence: ev,
		Group: group, Instance: instance, InstanceID: id,
	})
	p.routeStates[RoutePruning]++
}
