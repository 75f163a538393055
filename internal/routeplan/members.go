package routeplan

import (
	"time"

	"github.com/vpclink/vpclink/internal/gce"
)

// Choices of this phase:
//
//   - API evidence prunes at once, whatever the probes say: the member is not
//     RUNNING; its MIG currentAction is DELETING, RECREATING or ABANDONING.
//   - Starting: not Healthy since its last start and started less than
//     bootGrace ago, whatever the probe verdict (invariant 6). The start is
//     the instance's lastStartTimestamp, so a stop/start, a MIG restart and
//     a reboot after a panic are boots like the first one; the creation time
//     stands in when GCE gives no start. The monitor starts a target over
//     when its start moves, so "Healthy since the start" is EverHealthy. A
//     member the monitor has not probed yet is Unknown and treated like
//     Starting. An agent that answers that it is still announcing is
//     Starting in the monitor already, however long that takes. A member
//     with an owned route created since its start has come up, and the
//     grace no longer protects it, even if this reconciler (just restarted)
//     never saw it Healthy.
//   - Draining: its agent answers that it withdraws its routes. Neither
//     pruned on probes nor restored: a drain is planned, the agent deletes its own
//     routes while it still forwards.
//   - Each group's members are counted (groupCount): a group of one has no
//     peer to corroborate a probe verdict (corroboration.go). The healthy and
//     unhealthy counts are kept for status; they no longer hold prunes.

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

// groupCount counts a group's members: healthy and unhealthy among the
// judged, and every member (a group of one has no peer to corroborate).
type groupCount struct{ healthy, unhealthy, total, members int }

// judgeMembers joins each MIG row with its instance and decides its state.
func (p *planner) judgeMembers() {
	x := &p.idx
	for _, row := range p.in.Members {
		m := p.joinMember(row)
		probe, probed := p.in.Probes[m.ID]
		m.probe = probe
		announced := !m.Started.IsZero() && !x.newestRoute[m.ID].Before(m.Started)
		m.Health = effectiveHealth(probe, probed, announced, m.Started, p.in.Now, p.in.Config.BootGrace.Duration)
		m.Evidence = apiEvidence(m.Status, m.Action)

		c := p.counts[m.Group]
		if c == nil {
			c = &groupCount{}
			p.counts[m.Group] = c
		}
		c.members++
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
		case m.Health == Draining:
			m.State = StateDraining
		default:
			m.State = StateStarting
		}
		x.members = append(x.members, m)
		if m.ID != 0 {
			x.memberByID[m.ID] = m
		}
		x.memberByZoneName[zoneName(m.Zone, m.Name)] = m
	}
}

// joinMember builds a member from its MIG row and, when listed, its
// instance: the instances list is the newer truth about id and status.
func (p *planner) joinMember(row Member) *member {
	mi := row.Managed
	m := &member{Forwarder: Forwarder{
		Group: row.Group, Name: mi.Name, ID: mi.ID, Zone: mi.Zone,
		Status: mi.Status, Action: mi.CurrentAction,
	}, selfLink: mi.URL}
	if inst := p.idx.instByZoneName[zoneName(mi.Zone, mi.Name)]; inst != nil {
		m.ID, m.Status, m.Created, m.Started = inst.ID, inst.Status, inst.CreationTimestamp, inst.LastStartTimestamp
		_, m.Draining = inst.Metadata[gce.DrainMetadataKey]
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
	if m.Started.IsZero() {
		m.Started = m.Created
	}
	if m.selfLink == "" {
		m.selfLink = "https://www.googleapis.com/compute/v1/projects/" + p.in.Config.Project +
			"/zones/" + m.Zone + "/instances/" + m.Name
	}
	return m
}

// effectiveHealth applies the boot grace (invariant 6) to the monitor's
// verdict: a forwarder started less than grace ago that has not been Healthy
// since is Starting, whatever the failures so far. "Never answered" alone is
// not enough: a forwarder may answer once and then stall while it boots.
//
// A forwarder with an owned route created since its start has come up (its
// agent announces only once ready, and restores are only for Healthy
// forwarders), so the grace does not protect it: that is what a reconciler
// that restarts, and so never saw it Healthy, goes by.
func effectiveHealth(pr Probe, probed, announced bool, started, now time.Time, grace time.Duration) Health {
	if !probed || pr.Verdict == "" {
		return Unknown
	}
	if !pr.EverHealthy && !announced && !started.IsZero() && now.Sub(started) < grace {
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
