package gcefake

import (
	"sort"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// EffectiveRoute is a route the data plane uses right now: where a fabric
// router sends packets for DestRange.
type EffectiveRoute struct {
	Name            string   `json:"name"`
	Project         string   `json:"project"`
	Network         string   `json:"network"` // bare name
	DestRange       string   `json:"destRange"`
	Priority        uint32   `json:"priority"`
	Tags            []string `json:"tags,omitempty"`
	NextHopInstance string   `json:"nextHopInstance,omitempty"`
	NextHopIP       string   `json:"nextHopIp,omitempty"`
	Instance        string   `json:"instance"`   // name of the instance that gets the packets
	InstanceIP      string   `json:"instanceIp"` // its NIC address on the route's network
}

// EffectiveRoutes returns the routes in effect, sorted by network, range,
// priority and name. A route is in effect once it is programmed (its
// insert DONE plus the propagation delay), until it is unprogrammed (its
// delete DONE plus the propagation delay), and while its next hop (the instance, or the instance holding the next-hop IP on the
// route's network) is RUNNING, and for RouteGrace after the hop left
// RUNNING. The hop is resolved by name, so a route outlives a recreate of its
// instance: whether the new incarnation should receive its traffic is what
// vpclink's instance-id route names exist to decide. Panicked instances are
// RUNNING, so their routes stay in effect.
func (s *Server) EffectiveRoutes() []EffectiveRoute {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.effectiveLocked(time.Now())
}

// effectiveLocked is EffectiveRoutes at now.
func (s *Server) effectiveLocked(now time.Time) []EffectiveRoute {
	var out []EffectiveRoute
	for _, p := range s.projects {
		add := func(e *routeEntry) {
			if !e.programmedAt(now) {
				return
			}
			in, nic := s.effectiveHopLocked(e.pb, now)
			if in == nil {
				return
			}
			_, network, _ := parseNetwork(p.name, e.pb.GetNetwork())
			out = append(out, EffectiveRoute{
				Name:            e.pb.GetName(),
				Project:         p.name,
				Network:         network,
				DestRange:       e.pb.GetDestRange(),
				Priority:        e.pb.GetPriority(),
				Tags:            append([]string(nil), e.pb.GetTags()...),
				NextHopInstance: e.pb.GetNextHopInstance(),
				NextHopIP:       e.pb.GetNextHopIp(),
				Instance:        in.pub.Name,
				InstanceIP:      in.pub.NICs[nic].IP,
			})
		}
		for _, e := range p.routes {
			add(e)
		}
		for _, e := range p.fading {
			add(e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Network != b.Network {
			return a.Network < b.Network
		}
		if a.DestRange != b.DestRange {
			return a.DestRange < b.DestRange
		}
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		return a.Name < b.Name
	})
	return out
}

// hopCandidatesLocked returns the current incarnation of a route's next hop
// (nil when none) and the last removed one still in grace (nil when none),
// with the index of the NIC on the route's network for each (-1: none).
func (s *Server) hopCandidatesLocked(r *computepb.Route) (cur *instance, curNIC int, old *instance, oldNIC int) {
	network := r.GetNetwork()
	if ref := r.GetNextHopInstance(); ref != "" {
		key, ok := s.refKeys[ref]
		if !ok {
			if p, z, n, parsed := parseInstanceRef("", ref); parsed {
				key = instKey(p, z, n)
			}
			s.refKeys[ref] = key // a memo: effective sets are computed often
		}
		if key == "" {
			return nil, -1, nil, -1
		}
		cur, old = s.instances[key], s.gone[key]
		return cur, nicOn(cur, network), old, nicOn(old, network)
	}
	ip := r.GetNextHopIp()
	if ip == "" {
		return nil, -1, nil, -1
	}
	find := func(m map[string]*instance) (*instance, int) {
		for _, in := range m {
			for i, nic := range in.pub.NICs {
				if nic.IP == ip && in.netURLs[i] == network {
					return in, i
				}
			}
		}
		return nil, -1
	}
	cur, curNIC = find(s.instances)
	old, oldNIC = find(s.gone)
	return cur, curNIC, old, oldNIC
}

// nicOn returns the index of in's NIC on network, or -1 if it has none
// there (GCE then treats the route's next hop as invalid).
func nicOn(in *instance, network string) int {
	if in == nil {
		return -1
	}
	for i, u := range in.netURLs {
		if u == network {
			return i
		}
	}
	return -1
}

// effectiveHopLocked returns the instance (and NIC index) that receives a
// live route's packets now, or nil when the route is not in effect.
func (s *Server) effectiveHopLocked(r *computepb.Route, now time.Time) (*instance, int) {
	cur, curNIC, old, oldNIC := s.hopCandidatesLocked(r)
	if curNIC < 0 {
		cur = nil
	}
	if oldNIC < 0 {
		old = nil
	}
	if cur != nil && cur.noIPForward {
		return nil, 0 // see hopWarningLocked
	}
	if cur != nil && cur.pub.Status == StatusRunning {
		return cur, curNIC
	}
	inGrace := func(in *instance) bool {
		return in != nil && !in.leftRunning.IsZero() && now.Sub(in.leftRunning) < s.opts.RouteGrace
	}
	switch {
	case inGrace(cur) && (old == nil || !old.leftRunning.After(cur.leftRunning)):
		return cur, curNIC
	case inGrace(old):
		return old, oldNIC
	}
	return nil, 0
}

// hopWarningLocked returns the GCE warning code a route carries now, or "".
func (s *Server) hopWarningLocked(r *computepb.Route) string {
	if r.GetNextHopInstance() == "" && r.GetNextHopIp() == "" {
		return ""
	}
	cur, _, _, _ := s.hopCandidatesLocked(r)
	switch {
	case cur == nil && r.GetNextHopInstance() != "":
		return "NEXT_HOP_INSTANCE_NOT_FOUND"
	case cur == nil:
		return "NEXT_HOP_ADDRESS_NOT_ASSIGNED"
	case cur.noIPForward:
		// Route.warnings in the REST reference: NEXT_HOP_CANNOT_IP_FORWARD,
		// "A route was created that specifies an instance that does not
		// have IP forwarding enabled"; such a hop gets no packets.
		return "NEXT_HOP_CANNOT_IP_FORWARD"
	case cur.pub.Status != StatusRunning:
		return "NEXT_HOP_NOT_RUNNING"
	}
	return ""
}
