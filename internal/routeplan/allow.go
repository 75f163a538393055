package routeplan

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/naming"
)

// Choices of this file: each wanted route must carry the name
// naming.RouteName gives for the forwarder's id, fit an allow entry (network,
// project, priority in range, and a destRange that is one of the entry's
// ranges exactly or, when the entry states prefixLength, lies inside one of
// them with a length in that range) and point its next hop at that very
// instance (its URL or one of its NIC addresses). Everything else is
// rejected and never created (invariant 7): a forwarder cannot make the
// reconciler create a more specific route than the operator allowed, which
// would win over every other route to those hosts.

// allowed turns a wanted route into the route to insert, or says why not.
func (p *planner) allowed(m *member, wr agentapi.Route) (gce.Route, string) {
	cfg := p.in.Config
	project := wr.Project
	if project == "" {
		project = cfg.Project
	}
	if wr.Network == "" {
		return gce.Route{}, "no network"
	}
	if np := networkProject(wr.Network); np != "" && np != project {
		return gce.Route{}, fmt.Sprintf("network %s is not in project %s", wr.Network, project)
	}
	want := naming.RouteName(p.prefix, m.ID, project, wr.Network, wr.DestRange)
	if wr.Name != want {
		return gce.Route{}, fmt.Sprintf("name %q is not %q, the name for instance id %d and %s", wr.Name, want, m.ID, wr.DestRange)
	}
	dest, err := netip.ParsePrefix(wr.DestRange)
	if err != nil {
		return gce.Route{}, fmt.Sprintf("destRange %q: %v", wr.DestRange, err)
	}
	if dest != dest.Masked() {
		return gce.Route{}, fmt.Sprintf("destRange %q has host bits set", wr.DestRange)
	}
	if !inAllowlist(cfg, project, wr.Network, dest, wr.Priority) {
		return gce.Route{}, fmt.Sprintf("network %s project %s destRange %s priority %d fits no allow entry",
			naming.NetworkName(wr.Network), project, wr.DestRange, wr.Priority)
	}
	r := gce.Route{
		Name: want, Project: project, Network: wr.Network, DestRange: wr.DestRange,
		Priority: wr.Priority, Tags: wr.Tags,
		Description: naming.Marker{Instance: m.Name, Zone: m.Zone, Group: m.Group, Agent: p.in.Writer}.Description(),
	}
	switch hop := wr.NextHop; {
	case isIP(hop):
		if !contains(m.nicIPs, hop) {
			return gce.Route{}, fmt.Sprintf("next hop %s is not an address of instance %s", hop, m.Name)
		}
		r.NextHopIP = hop
	case hop == "" || sameInstance(hop, m.selfLink):
		r.NextHopInstance = m.selfLink
	default:
		return gce.Route{}, fmt.Sprintf("next hop %s is not instance %s", hop, m.Name)
	}
	return r, ""
}

// inAllowlist reports whether some allow entry admits the route.
func inAllowlist(cfg config.Reconciler, project, network string, dest netip.Prefix, priority uint32) bool {
	for _, a := range cfg.Allow {
		allowProject := a.Project
		if allowProject == "" {
			allowProject = cfg.Project
		}
		if allowProject != project || naming.NetworkName(a.Network) != naming.NetworkName(network) {
			continue
		}
		if priority < a.Priority.Min || priority > a.Priority.Max {
			continue
		}
		for _, s := range a.DestRanges {
			super, err := netip.ParsePrefix(s)
			if err != nil {
				continue // config validation reports it
			}
			if super == dest {
				return true
			}
			pl := a.PrefixLength
			if pl == nil || dest.Bits() < pl.Min || dest.Bits() > pl.Max {
				continue
			}
			if super.Addr().Is4() == dest.Addr().Is4() && super.Bits() <= dest.Bits() && super.Contains(dest.Addr()) {
				return true
			}
		}
	}
	return false
}

// networkProject returns the project segment of a network URL, or "" for
// a bare name.
func networkProject(network string) string {
	_, rest, ok := strings.Cut(network, "projects/")
	if !ok {
		return ""
	}
	project, _, _ := strings.Cut(rest, "/")
	return project
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sameInstance compares instance URLs from "projects/" on, so that the
// compute/v1 and compute/beta spellings and a bare path agree.
func sameInstance(a, b string) bool {
	return instancePath(a) == instancePath(b)
}

func instancePath(u string) string {
	if i := strings.Index(u, "projects/"); i >= 0 {
		return u[i:]
	}
	return u
}
