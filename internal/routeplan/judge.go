package routeplan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// leavingActions are the MIG currentActions after which an instance will not
// forward again under its current id (DESIGN.md invariant 5).
var leavingActions = map[string]bool{"DELETING": true, "RECREATING": true, "ABANDONING": true}

// bootingStatus are the statuses of an instance on its way to RUNNING.
var bootingStatus = map[string]bool{"": true, "PROVISIONING": true, "STAGING": true}

// member is a Forwarder plus what the planner needs to judge its routes.
type member struct {
	Forwarder
	selfLink string
	nicIPs   []string
	probe    Probe
}

// pendingProbe is a route that probe evidence would prune, if fail static
// allows it for the group.
type pendingProbe struct {
	m     *member
	route gce.Route
}

type groupCount struct{ healthy, unhealthy, total int }

type planner struct {
	in     Input
	prefix string

	instByZoneName map[string]*gce.Instance
	instByID       map[instanceid.ID]*gce.Instance
	listedZones    map[string]bool
	groups         map[string]bool

	members          []*member
	memberByID       map[instanceid.ID]*member
	memberByZoneName map[string]*member
	counts           map[string]*groupCount

	ownedNames map[string]bool
	// staleDeletes indexes the stale deletes by the current incarnation's id
	// and the range hash, so a restore of the same range can order them.
	staleDeletes map[instanceid.ID]map[string][]int
	pending      []pendingProbe

	actions     []Action
	rejected    []Rejection
	failStatic  FailStatic
	routeStates map[RouteState]int
}

func zoneName(zone, name string) string { return zone + "/" + name }

func (p *planner) indexInstances() {
	p.instByZoneName = make(map[string]*gce.Instance, len(p.in.Instances))
	p.instByID = make(map[instanceid.ID]*gce.Instance, len(p.in.Instances))
	p.listedZones = map[string]bool{}
	for i := range p.in.Instances {
		inst := &p.in.Instances[i]
		p.instByZoneName[zoneName(inst.Zone, inst.Name)] = inst
		p.instByID[inst.ID] = inst
		p.listedZones[inst.Zone] = true
	}
	p.groups = map[string]bool{}
	for _, g := range p.in.Config.Groups {
		p.groups[g.Name] = true
		if g.Zone != "" {
			p.listedZones[g.Zone] = true
		}
	}
	for _, m := range p.in.Members {
		if m.Managed.Zone != "" {
			p.listedZones[m.Managed.Zone] = true
		}
	}
	p.ownedNames = map[string]bool{}
	p.staleDeletes = map[instanceid.ID]map[string][]int{}
	p.routeStates = map[RouteState]int{}
}

// judgeMembers joins each MIG row with its instance and decides its state.
func (p *planner) judgeMembers() {
	p.memberByID = make(map[instanceid.ID]*member, len(p.in.Members))
	p.memberByZoneName = make(map[string]*member, len(p.in.Members))
	p.counts = map[string]*groupCount{}
	for _, row := range p.in.Members {
		mi := row.Managed
		m := &member{Forwarder: Forwarder{
			Group: row.Group, Name: mi.Name, ID: mi.ID, Zone: mi.Zone,
			Status: mi.Status, Action: mi.CurrentAction,
		}, selfLink: mi.URL}
		if inst := p.instByZoneName[zoneName(mi.Zone, mi.Name)]; inst != nil {
			// The instances list is the newer truth about id and status.
			m.ID, m.Status, m.Created = inst.ID, inst.Status, inst.CreationTimestamp
			if inst.SelfLink != "" {
				m.selfLink = inst.SelfLink
			}
			for _, nic := range inst.NICs {
				m.nicIPs = append(m.nicIPs, nic.IP)
				if nic.Index == 0 {
					m.IP = nic.IP
				}
			}
		}
		if m.selfLink == "" {
			m.selfLink = "https://www.googleapis.com/compute/v1/projects/" + p.in.Config.Project +
				"/zones/" + m.Zone + "/instances/" + m.Name
		}
		probe, probed := p.in.Probes[m.ID]
		m.probe = probe
		m.Health = effectiveHealth(probe, probed, m.Created, p.in.Now, p.in.Config.BootGrace.Duration)
		m.Evidence = apiEvidence(m.Status, m.Action)

		c := p.counts[m.Group]
		if c == nil {
			c = &groupCount{}
			p.counts[m.Group] = c
		}
		switch {
		case m.Evidence != "" && bootingStatus[m.Status] && !leavingActions[m.Action]:
			m.State = StateStarting // its routes, if any, still go: it does not forward yet
		case m.Evidence != "":
			m.State = StateDown
		case m.Health == Healthy:
			m.State = StateHealthy
			c.total++
			if probe.ConsecutiveFailures == 0 {
				c.healthy++ // a Healthy forwarder already failing counts as suspect
			}
		case m.Health == Unhealthy:
			m.State = StateUnhealthy
			c.unhealthy++
			c.total++
		default:
			m.State = StateStarting
		}
		p.members = append(p.members, m)
		if m.ID != 0 {
			p.memberByID[m.ID] = m
		}
		p.memberByZoneName[zoneName(m.Zone, m.Name)] = m
	}
}

// effectiveHealth applies the boot grace (invariant 6) to the monitor's
// verdict: a forwarder younger than grace that has never been Healthy is
// Starting, whatever the failures so far. "Never answered" alone is not
// enough: an agent answers /readyz 503 while it announces, so the monitor may
// say Unhealthy with one success behind it, and pruning then would delete
// routes the agent has just created.
func effectiveHealth(pr Probe, probed bool, created, now time.Time, grace time.Duration) Verdict {
	if !probed || pr.Verdict == "" {
		return Unknown
	}
	if !pr.EverHealthy && !created.IsZero() && now.Sub(created) < grace {
		return Starting
	}
	return pr.Verdict
}

// apiEvidence returns why the API says this member will not forward, or "".
func apiEvidence(status, action string) string {
	switch {
	case status == "":
		return "instance is not created yet"
	case status != "RUNNING":
		return "instance is " + status
	case leavingActions[action]:
		return "MIG action " + action
	}
	return ""
}

// judgeRoutes classifies every owned route in scope.
func (p *planner) judgeRoutes() {
	for _, r := range p.in.Routes {
		// Invariant 1: both the name shape and the marker (naming.IsOwned),
		// or the route is not ours and never in the plan.
		parsed, err := naming.ParseName(p.prefix, r.Name)
		if err != nil {
			continue
		}
		marker, err := naming.ParseDescription(r.Description)
		if err != nil {
			continue
		}
		p.ownedNames[r.Name] = true

		if m := p.memberByID[parsed.InstanceID]; m != nil {
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

		inScope := p.groups[marker.Group] || (marker.Group == "" && p.listedZones[marker.Zone])
		if !inScope {
			continue // another shard's route
		}
		id := parsed.InstanceID
		if cur := p.memberByZoneName[zoneName(marker.Zone, marker.Instance)]; cur != nil && cur.ID != 0 {
			reason := fmt.Sprintf("instance %s was recreated: route is for id %d, current id is %d", marker.Instance, id, cur.ID)
			p.prune(r, marker.Group, marker.Instance, id, EvidenceStale, reason)
			byHash := p.staleDeletes[cur.ID]
			if byHash == nil {
				byHash = map[string][]int{}
				p.staleDeletes[cur.ID] = byHash
			}
			byHash[parsed.Hash] = append(byHash[parsed.Hash], len(p.actions)-1)
			continue
		}
		reason := fmt.Sprintf("instance %s (id %d) no longer exists", marker.Instance, id)
		if inst := p.instByID[id]; inst != nil {
			reason = fmt.Sprintf("instance %s (id %d) is not a member of group %s", inst.Name, id, marker.Group)
		}
		p.prune(r, marker.Group, marker.Instance, id, EvidenceAPI, reason)
	}
}

func (p *planner) prune(r gce.Route, group, instance string, id instanceid.ID, ev Evidence, reason string) {
	p.actions = append(p.actions, Action{
		Op: OpDelete, Route: r, Reason: reason, Evidence: ev,
		Group: group, Instance: instance, InstanceID: id,
	})
	p.routeStates[RoutePruning]++
}

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
