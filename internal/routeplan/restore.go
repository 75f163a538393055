package routeplan

import (
	"fmt"
	"sort"
	"strings"

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
//   - A Healthy forwarder whose peers' fresh observations say it does not
//     answer (Input.Judgements Down) gets nothing back: a route pruned on
//     corroborated evidence is not restored on one replica's word, or two
//     replicas with divergent views would delete and insert it every pass.
//   - Restores are capped: at most restore.maxPerForwarder inserts for one
//     forwarder and restore.maxPerPass in all, in member and route-name
//     order; the rest are rejected with the cap as reason (Decision.Capped
//     counts them) and come in later passes. A /status listing thousands of
//     routes cannot queue thousands of inserts.

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
		if j, ok := p.in.Judgements[m.ID]; ok && j.Down {
			p.reject(m, "", "peers' fresh observations say it does not answer ("+strings.Join(j.Agree, ", ")+"): not restored on one vantage point's word")
			continue
		}
		if reason := statusMismatch(st, m); reason != "" {
			p.reject(m, "", reason)
			continue
		}
		planned := map[string]bool{}
		wants := append([]agentapi.Route(nil), st.Routes...)
		sort.SliceStable(wants, func(i, j int) bool { return wants[i].Name < wants[j].Name })
		for _, wr := range wants {
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
			if reason := p.capReason(len(planned)); reason != "" {
				p.reject(m, r.Name, reason)
				p.capped++
				continue
			}
			planned[r.Name] = true
			p.restores++
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

// capReason returns why one more restore is over a cap, or "", given the
// inserts already planned for this forwarder.
func (p *planner) capReason(forForwarder int) string {
	cfg := p.in.Config.Restore
	switch {
	case cfg.MaxPerForwarder > 0 && forForwarder >= cfg.MaxPerForwarder:
		return fmt.Sprintf("restore cap: %d inserts for one forwarder per pass (restore.maxPerForwarder)", cfg.MaxPerForwarder)
	case cfg.MaxPerPass > 0 && p.restores >= cfg.MaxPerPass:
		return fmt.Sprintf("restore cap: %d inserts per pass (restore.maxPerPass)", cfg.MaxPerPass)
	}
	return ""
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
	case st.Draining:
		return "agent is draining"
	}
	return ""
}

func (p *planner) reject(m *member, route, reason string) {
	p.rejected = append(p.rejected, Rejection{Instance: m.Name, InstanceID: m.ID, Route: route, Reason: reason})
}
