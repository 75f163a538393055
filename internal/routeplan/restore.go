package routeplan

import (
	"fmt"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/naming"
)

// Choices of this phase:
//
//   - Restore inserts only routes missing by name, for members that are
//     Healthy, RUNNING, without API evidence, whose /status reports the same
//     instance id and name, ready, and not draining (neither by its /status
//     nor by the vpclink-drain metadata mark, invariant 12); allow.go decides what
//     a wanted route may be. Everything else is listed in
//     Decision.Rejected and never created.
//   - Routes a healthy forwarder has but no longer wants are the agent's
//     business, not the reconciler's; so is a route that exists under the
//     wanted name with another priority or tags (replacing it is a delete
//     and an insert of the same name, which only the agent may sequence
//     safely).
//   - New before old: a stale incarnation's delete of the same range waits
//     for the insert (routes.go).

// restore plans inserts for the routes Healthy forwarders ask for and lack
// (invariant 7).
func (p *planner) restore() {
	for _, m := range p.idx.members {
		if m.Health != Healthy || m.Evidence != "" {
			continue
		}
		st, ok := p.in.Wanted[m.ID]
		if !ok {
			continue
		}
		if m.Draining {
			p.reject(m, "", "instance carries the "+gce.DrainMetadataKey+" mark")
			continue
		}
		if reason := statusMismatch(st, m); reason != "" {
			p.reject(m, "", reason)
			continue
		}
		planned := map[string]bool{}
		for _, wr := range st.Routes {
			if p.ownedNames[wr.Name] {
				continue // exists: whatever it is, there is nothing to create
			}
			r, reason := p.allowed(m, wr)
			if reason != "" {
				p.reject(m, wr.Name, reason)
				continue
			}
			if p.ownedNames[r.Name] || planned[r.Name] {
				continue
			}
			planned[r.Name] = true
			p.add(Action{
				Op: OpInsert, Route: r, Evidence: EvidenceRestore,
				Reason: "healthy forwarder asks for it and it is missing",
				Group:  m.Group, Instance: m.Name, InstanceID: m.ID,
			})
			// New before old: stale routes of the same range wait for this.
			parsed, _ := naming.ParseName(p.prefix, r.Name)
			for _, name := range p.staleByHash[m.ID][parsed.Hash] {
				a := p.actions[name]
				a.After = r.Name
				p.actions[name] = a
			}
		}
	}
}

// statusMismatch returns why st cannot speak for m, or "".
func statusMismatch(st agentapi.Status, m *member) string {
	switch {
	case st.Instance.ID != m.ID || st.Instance.Name != m.Name:
		return fmt.Sprintf("/status is from instance %s id %s, not %s id %d", st.Instance.Name, st.Instance.ID, m.Name, m.ID)
	case !st.Ready:
		return "agent is not ready"
	case st.Phase == "draining" || st.Phase == "drained":
		return "agent is " + st.Phase
	}
	return ""
}

func (p *planner) reject(m *member, route, reason string) {
	p.rejected = append(p.rejected, Rejection{Instance: m.Name, InstanceID: m.ID, Route: route, Reason: reason})
}
