package agent

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/naming"
)

// Validate reports every problem with cfg at once (config.Agent.Validate,
// including that each route's network is the network of one of this
// instance's NICs). Each message names the field and the value, for an
// exit-2 message. cfg must carry its defaults (config.LoadAgent does that).
func Validate(cfg config.Agent, id gce.Identity) error {
	return cfg.Validate(nicNetworks(id))
}

// nicNetworks lists the instance's NIC networks by NIC number.
func nicNetworks(id gce.Identity) []string {
	n := 0
	for _, nic := range id.NICs {
		n = max(n, nic.Index+1)
	}
	out := make([]string, n)
	for _, nic := range id.NICs {
		out[nic.Index] = nic.Network
	}
	return out
}

// WantedRoutes returns the routes this instance announces: one per route
// spec and destination range, named and marked as DESIGN.md invariant 2
// says, sorted by name.
func WantedRoutes(cfg config.Agent, id gce.Identity, group, version string) ([]gce.Route, error) {
	cfg.Routes = slices.Clone(cfg.Routes) // SetDefaults must not write through to the caller's
	cfg.SetDefaults()
	prefix := cfg.RoutePrefix
	marker := naming.Marker{Instance: id.Name, Zone: id.Zone, Group: group, Project: id.Project, Agent: version}
	var routes []gce.Route
	var errs []error
	for i, spec := range cfg.Routes {
		project := spec.Project
		if project == "" {
			project = id.Project
		}
		r := gce.Route{
			Project:     project,
			Network:     spec.Network,
			Priority:    *spec.Priority,
			Tags:        spec.Tags,
			Description: marker.Description(),
		}
		switch spec.NextHop {
		case config.NextHopInstance:
			r.NextHopInstance = id.InstanceURL()
		case config.NextHopIP:
			nic, ok := nicOn(id, spec.Network)
			if !ok || nic.IP == "" {
				errs = append(errs, fmt.Errorf("routes[%d].nextHop: %q needs this instance's address on network %q, which metadata does not give", i, spec.NextHop, spec.Network))
				continue
			}
			r.NextHopIP = nic.IP
		default:
			errs = append(errs, fmt.Errorf("routes[%d].nextHop: %q is neither %q nor %q", i, spec.NextHop, config.NextHopInstance, config.NextHopIP))
			continue
		}
		for _, dest := range spec.DestRanges {
			r.DestRange = dest
			r.Name = naming.RouteName(prefix, id.ID, project, spec.Network, dest)
			routes = append(routes, r)
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Name < routes[j].Name })
	for i := 1; i < len(routes); i++ {
		if routes[i].Name == routes[i-1].Name {
			errs = append(errs, fmt.Errorf("routes: destRange %q on network %q is listed twice", routes[i].DestRange, routes[i].Network))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return routes, nil
}

// nicOn returns the instance's NIC on network (name or URL).
func nicOn(id gce.Identity, network string) (gce.MetadataNIC, bool) {
	want := naming.NetworkName(network)
	for _, n := range id.NICs {
		if naming.NetworkName(n.Network) == want {
			return n, true
		}
	}
	return gce.MetadataNIC{}, false
}

// statusRoutes renders routes for /status.
func statusRoutes(routes []gce.Route) []agentapi.Route {
	out := make([]agentapi.Route, 0, len(routes))
	for _, r := range routes {
		hop := r.NextHopInstance
		if hop == "" {
			hop = r.NextHopIP
		}
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		out = append(out, agentapi.Route{
			Name: r.Name, Project: r.Project, Network: naming.NetworkName(r.Network),
			DestRange: r.DestRange, Priority: r.Priority, Tags: tags, NextHop: hop,
		})
	}
	return out
}

// GroupFromAttributes names the instance's group from the metadata
// attributes a MIG sets: instance-group when present, else the last path
// element of created-by (projects/N/zones/Z/instanceGroupManagers/NAME);
// empty for a standalone VM.
func GroupFromAttributes(instanceGroup, createdBy string) string {
	if instanceGroup != "" {
		return naming.NetworkName(instanceGroup)
	}
	if strings.Contains(createdBy, "/instanceGroupManagers/") {
		return naming.NetworkName(createdBy)
	}
	return ""
}

// ListenAddresses are where the agent serves HTTP: the --listen flag, else
// health.listen, else nic0's address and loopback on health.port. Not
// every address by default: nic1 faces the other VPC, which has no business
// with /status; loopback serves the local metrics scraper (the Ops Agent
// reads localhost:PORT/metrics).
func ListenAddresses(flag string, h config.AgentHealth, nic0 gce.MetadataNIC) []string {
	port := strconv.Itoa(h.Port)
	switch {
	case flag != "":
		return []string{flag}
	case h.Listen != "":
		return []string{h.Listen}
	case nic0.IP != "":
		return []string{net.JoinHostPort(nic0.IP, port), net.JoinHostPort("127.0.0.1", port)}
	}
	return []string{":" + port}
}
