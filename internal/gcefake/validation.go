package gcefake

import (
	"net"
	"sort"
	"strings"
)

// networks records the VPC networks the fake knows, with their subnet
// ranges: those on which an instance ever had a NIC, and those defined
// with DefineNetwork.
type networkInfo struct {
	subnets map[string]*net.IPNet // CIDR → range
}

// DefineNetwork makes network (a bare name in project, or
// projects/P/global/networks/N) known with the given subnet CIDRs, as
// creating it and its subnets in GCE would. Networks on which an instance
// has a NIC are known without it.
func (s *Server) DefineNetwork(project, network string, subnets ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	np, nn, ok := parseNetwork(project, network)
	if !ok {
		return errInvalid("Invalid value for field 'network': '%s'.", network)
	}
	for _, c := range subnets {
		if _, _, err := net.ParseCIDR(c); err != nil {
			return errInvalid("Invalid value for field 'ipCidrRange': '%s'.", c)
		}
	}
	s.addNetworkLocked(networkURL(np, nn), subnets...)
	return nil
}

func (s *Server) addNetworkLocked(url string, subnets ...string) {
	n := s.networks[url]
	if n == nil {
		n = &networkInfo{subnets: map[string]*net.IPNet{}}
		s.networks[url] = n
	}
	for _, c := range subnets {
		if _, ipnet, err := net.ParseCIDR(c); err == nil {
			n.subnets[ipnet.String()] = ipnet
		}
	}
}

// validateRouteLocked checks a canonical route against the networks, as
// GCE does when it accepts an insert:
//   - an unknown network is 404 notFound, in a project the fake knows
//     networks of (one it was told nothing about, such as a Shared VPC
//     host whose networks no NIC uses, is taken as is);
//   - a destRange equal to or inside a subnet range of the route's network
//     is 400 invalid, worded as in the field report
//     SUSE/ha-sap-terraform-deployments#655: "Invalid value for field
//     'resource.destRange': '192.168.1.13/32'. 192.168.1.13/32 hides the
//     address space of the network (192.168.1.0/24). Cannot change the
//     routing of packets destined for the network." Broader ranges are
//     allowed (the subnet route stays more specific).
func (s *Server) validateRouteLocked(rt routeView) *apiError {
	n := s.networks[rt.network]
	if n == nil {
		p, name, _ := parseNetwork("", rt.network)
		if !s.knowsNetworksOfLocked(p) {
			return nil // a project the fake was told nothing about (e.g. a Shared VPC host): taken as is
		}
		return errNotFound("projects/" + p + "/global/networks/" + name)
	}
	_, dest, err := net.ParseCIDR(rt.destRange)
	if err != nil {
		return nil // canonicalRoute rejected it already
	}
	ones, _ := dest.Mask.Size()
	cidrs := make([]string, 0, len(n.subnets))
	for c := range n.subnets {
		cidrs = append(cidrs, c)
	}
	sort.Strings(cidrs)
	for _, c := range cidrs {
		sub := n.subnets[c]
		subOnes, _ := sub.Mask.Size()
		if ones >= subOnes && sub.Contains(dest.IP) {
			return errInvalid("Invalid value for field 'resource.destRange': '%s'. %s hides the address space of the network (%s). Cannot change the routing of packets destined for the network.",
				rt.destRange, rt.destRange, c)
		}
	}
	return nil
}

// routeView is what validateRouteLocked needs of a route.
type routeView struct {
	network, destRange string
}

// checkFields answers 400 when the filter names a field outside known, as
// GCE rejects a filter on a field its resource does not have. The wording
// is the fake's choice: "Invalid value for field 'filter': 'EXPR'. Invalid
// list filter expression."
func (p listParams) checkFields(raw string, known ...string) *apiError {
	for _, c := range p.filter {
		ok := false
		for _, k := range known {
			ok = ok || c.field == k
		}
		if !ok {
			return errInvalid("Invalid value for field 'filter': '%s'. Invalid list filter expression.", raw)
		}
	}
	return nil
}

// knowsNetworksOfLocked reports whether any network of project is known.
func (s *Server) knowsNetworksOfLocked(project string) bool {
	prefix := apiBase + "projects/" + project + "/global/networks/"
	for url := range s.networks {
		if strings.HasPrefix(url, prefix) {
			return true
		}
	}
	return false
}
