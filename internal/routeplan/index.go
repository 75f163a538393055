package routeplan

import (
	"time"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// index is what exists, joined once and read by every later phase.
type index struct {
	instByZoneName map[string]*gce.Instance
	instByID       map[instanceid.ID]*gce.Instance
	// listedZones are the zones whose instances the input lists: a route
	// whose marker names no group is in scope when its zone is one of them.
	listedZones map[string]bool
	// groups are the configured groups by name: a name may be used in
	// several locations, each its own group.
	groups map[string][]config.Group

	// newestRoute is the creation time of each instance id's newest owned
	// route: a forwarder with a route newer than its start has come up.
	newestRoute map[instanceid.ID]time.Time

	members          []*member
	memberByID       map[instanceid.ID]*member
	memberByZoneName map[string]*member
}

func zoneName(zone, name string) string { return zone + "/" + name }

// indexInstances indexes the instances list and the configured groups.
func (p *planner) indexInstances() {
	x := &p.idx
	x.instByZoneName = make(map[string]*gce.Instance, len(p.in.Instances))
	x.instByID = make(map[instanceid.ID]*gce.Instance, len(p.in.Instances))
	x.listedZones = map[string]bool{}
	for i := range p.in.Instances {
		inst := &p.in.Instances[i]
		x.instByZoneName[zoneName(inst.Zone, inst.Name)] = inst
		x.instByID[inst.ID] = inst
		x.listedZones[inst.Zone] = true
	}
	x.groups = map[string][]config.Group{}
	for _, g := range p.in.Config.Groups {
		x.groups[g.Name] = append(x.groups[g.Name], g)
		if g.Zone != "" {
			x.listedZones[g.Zone] = true
		}
	}
	for _, m := range p.in.Members {
		if m.Managed.Zone != "" {
			x.listedZones[m.Managed.Zone] = true
		}
	}
	x.newestRoute = map[instanceid.ID]time.Time{}
	for _, r := range p.in.Routes {
		if n, err := naming.ParseName(p.prefix, r.Name); err == nil && r.CreationTimestamp.After(x.newestRoute[n.InstanceID]) {
			x.newestRoute[n.InstanceID] = r.CreationTimestamp
		}
	}
	x.memberByID = make(map[instanceid.ID]*member, len(p.in.Members))
	x.memberByZoneName = make(map[string]*member, len(p.in.Members))
}
