package routeplan

import (
	"fmt"
	"strings"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// Choices of this phase:
//
//   - Scope (invariant 10). A route is considered only when naming.IsOwned
//     holds (prefix and marker), and then only when it is ours to judge: its
//     instance id is a member of one of the configured groups, or it is
//     placed in one of them. A group is (project, zone or region, name), so
//     placing a route takes three matches: the marker's group= names a
//     configured group, the instance's project is the config's project, and
//     the instance's zone lies in that group's location (the zone itself, or
//     a zone of the region). The project and zone are the marker's; a marker
//     without project= (older agents) is placed by its next hop instead, the
//     project and zone of its nextHopInstance URL, and a route whose next
//     hop is an IP cannot be placed that way and is left alone. A marker
//     without a group (the oldest) is placed by project and a zone we list.
//     Owned routes of other deployments, same group name or not, are never
//     in the decision.
//   - Routes placed in a group whose reads failed this pass (Input.Unread)
//     are left alone: without its member list, every route would look gone.
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
//   - A route of an Unhealthy member is pending, and corroboration.go decides,
//     only while the member's current run of failed probes has reached the
//     failure threshold: an Unhealthy verdict held by hysteresis after a
//     success is no evidence, so a prune "on 0 consecutive failed probes"
//     cannot happen. A route created after that run began is not pending
//     either: whoever created it saw the forwarder differently, and the run
//     says nothing about it (a forwarder that rebooted and re-announced).
//   - A stale-looking route created after the current incarnation was
//     created, less than bootGrace ago, is left for a later pass: the lists
//     disagree about which incarnation is current, and deleting could remove
//     a fresh incarnation's route.

// pendingProbe is a route that probe evidence would prune, if a peer
// corroborates the verdict.
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

		if m := x.memberByID[parsed.InstanceID]; m != nil && !p.unread[m.Group] {
			m.Routes = append(m.Routes, r.Name)
			switch {
			case m.Evidence != "":
				p.prune(r, m.Group, m.Name, m.ID, EvidenceAPI, m.Evidence)
			case m.Health == Unhealthy && p.probeEvidenceCovers(m, r):
				p.pending = append(p.pending, pendingProbe{m: m, route: r})
			default:
				p.routeStates[RouteActive]++
			}
			continue
		}

		if !p.placed(r, marker) || p.unread[marker.Group] || (marker.Group == "" && len(p.unread) > 0) {
			continue // another deployment's route, or one this pass cannot judge
		}
		id := parsed.InstanceID
		if cur := x.memberByZoneName[zoneName(marker.Zone, marker.Instance)]; cur != nil && cur.ID != 0 {
			if p.newerThanIncarnation(r, cur) {
				p.routeStates[RouteActive]++
				continue
			}
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

// placed reports whether a route that is no member's lies in one of the
// configured groups: its instance's project, zone and group.
func (p *planner) placed(r gce.Route, marker naming.Marker) bool {
	project, zone := marker.Project, marker.Zone
	if project == "" {
		var ok bool
		if project, zone, ok = instanceLocation(r.NextHopInstance); !ok {
			return false
		}
	}
	if project != p.in.Config.Project {
		return false
	}
	if marker.Group == "" {
		return p.idx.listedZones[zone]
	}
	for _, g := range p.idx.groups[marker.Group] {
		if g.Zone == zone || (g.Region != "" && regionOf(zone) == g.Region) {
			return true
		}
	}
	return false
}

// instanceLocation reads the project and zone of an instance URL
// (".../projects/P/zones/Z/instances/N").
func instanceLocation(url string) (project, zone string, ok bool) {
	parts := strings.Split(instancePath(url), "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "zones" || parts[4] != "instances" {
		return "", "", false
	}
	return parts[1], parts[3], true
}

// regionOf is the region of a zone name: us-central1-a is in us-central1.
func regionOf(zone string) string {
	i := strings.LastIndex(zone, "-")
	if i <= 0 {
		return ""
	}
	return zone[:i]
}

// probeEvidenceCovers reports whether m's current run of failed probes is
// evidence against r: at least the failure threshold, and begun after r was
// created.
func (p *planner) probeEvidenceCovers(m *member, r gce.Route) bool {
	threshold := max(p.in.Config.Probe.Failures, 1)
	if m.probe.ConsecutiveFailures < threshold {
		return false
	}
	streak := m.probe.StreakStart
	return streak.IsZero() || r.CreationTimestamp.IsZero() || !r.CreationTimestamp.After(streak)
}

// newerThanIncarnation reports whether r, which names another id than cur,
// was created after cur and recently enough that the lists may be behind.
func (p *planner) newerThanIncarnation(r gce.Route, cur *member) bool {
	created := r.CreationTimestamp
	return !created.IsZero() && !cur.Created.IsZero() && created.After(cur.Created) &&
		p.in.Now.Sub(created) < p.in.Config.BootGrace.Duration
}

func (p *planner) prune(r gce.Route, group, instance string, id instanceid.ID, ev Evidence, reason string) {
	p.add(Action{
		Op: OpDelete, Route: r, Reason: reason, Evidence: ev,
		Group: group, Instance: instance, InstanceID: id,
	})
	p.routeStates[RoutePruning]++
}
