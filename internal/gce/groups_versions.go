package gce

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

// Get reads the group manager (instanceGroupManagers.get).
func (a *groupsAPI) Get(ctx context.Context, g GroupRef) (Group, error) {
	if err := g.validate(); err != nil {
		return Group{}, fmt.Errorf("group %s: get: %w", g, err)
	}
	ctx, cancel := a.begin(ctx, "instanceGroupManagers.get")
	defer cancel()
	var (
		p   *computepb.InstanceGroupManager
		err error
	)
	if g.Zone != "" {
		p, err = a.zonal.Get(ctx, &computepb.GetInstanceGroupManagerRequest{
			Project: g.Project, Zone: g.Zone, InstanceGroupManager: g.Name,
		}, noLibraryRetry)
	} else {
		p, err = a.regional.Get(ctx, &computepb.GetRegionInstanceGroupManagerRequest{
			Project: g.Project, Region: g.Region, InstanceGroupManager: g.Name,
		}, noLibraryRetry)
	}
	if err != nil {
		return Group{}, fmt.Errorf("group %s: get: %w", g, err)
	}
	return groupFromProto(p), nil
}

// CreateInstances adds named members on the group's current version and
// waits until the MIG accepted them (operation DONE); the members boot
// afterwards.
func (a *groupsAPI) CreateInstances(ctx context.Context, g GroupRef, names []string) error {
	configs := make([]*computepb.PerInstanceConfig, len(names))
	for i, n := range names {
		configs[i] = &computepb.PerInstanceConfig{Name: &n}
	}
	return a.mutate(ctx, g, "createInstances",
		func(ctx context.Context) (*compute.Operation, error) {
			return a.zonal.CreateInstances(ctx, &computepb.CreateInstancesInstanceGroupManagerRequest{
				Project: g.Project, Zone: g.Zone, InstanceGroupManager: g.Name, RequestId: newRequestID(),
				InstanceGroupManagersCreateInstancesRequestResource: &computepb.InstanceGroupManagersCreateInstancesRequest{Instances: configs},
			})
		},
		func(ctx context.Context) (*compute.Operation, error) {
			return a.regional.CreateInstances(ctx, &computepb.CreateInstancesRegionInstanceGroupManagerRequest{
				Project: g.Project, Region: g.Region, InstanceGroupManager: g.Name, RequestId: newRequestID(),
				RegionInstanceGroupManagersCreateInstancesRequestResource: &computepb.RegionInstanceGroupManagersCreateInstancesRequest{Instances: configs},
			})
		})
}

// SetInstanceTemplate makes template the group's only version and waits
// until the MIG accepted it. Existing members change only as the update
// policy says (PROACTIVE) or when recreated.
func (a *groupsAPI) SetInstanceTemplate(ctx context.Context, g GroupRef, template string) error {
	return a.mutate(ctx, g, "setInstanceTemplate",
		func(ctx context.Context) (*compute.Operation, error) {
			return a.zonal.SetInstanceTemplate(ctx, &computepb.SetInstanceTemplateInstanceGroupManagerRequest{
				Project: g.Project, Zone: g.Zone, InstanceGroupManager: g.Name, RequestId: newRequestID(),
				InstanceGroupManagersSetInstanceTemplateRequestResource: &computepb.InstanceGroupManagersSetInstanceTemplateRequest{InstanceTemplate: &template},
			})
		},
		func(ctx context.Context) (*compute.Operation, error) {
			return a.regional.SetInstanceTemplate(ctx, &computepb.SetInstanceTemplateRegionInstanceGroupManagerRequest{
				Project: g.Project, Region: g.Region, InstanceGroupManager: g.Name, RequestId: newRequestID(),
				RegionInstanceGroupManagersSetTemplateRequestResource: &computepb.RegionInstanceGroupManagersSetTemplateRequest{InstanceTemplate: &template},
			})
		})
}

func groupFromProto(p *computepb.InstanceGroupManager) Group {
	g := Group{
		Name:                 p.GetName(),
		BaseInstanceName:     p.GetBaseInstanceName(),
		TargetSize:           int(p.GetTargetSize()),
		InstanceTemplate:     p.GetInstanceTemplate(),
		Stable:               p.GetStatus().GetIsStable(),
		VersionTargetReached: p.GetStatus().GetVersionTarget().GetIsReached(),
	}
	for _, v := range p.GetVersions() {
		g.Versions = append(g.Versions, GroupVersion{
			Name: v.GetName(), InstanceTemplate: v.GetInstanceTemplate(), TargetSize: amountFromProto(v.GetTargetSize()),
		})
	}
	if u := p.GetUpdatePolicy(); u != nil {
		g.UpdatePolicy = UpdatePolicy{
			Type:              u.GetType(),
			MinimalAction:     u.GetMinimalAction(),
			ReplacementMethod: u.GetReplacementMethod(),
			MaxSurge:          amountFromProto(u.GetMaxSurge()),
			MaxUnavailable:    amountFromProto(u.GetMaxUnavailable()),
		}
	}
	return g
}

func amountFromProto(p *computepb.FixedOrPercent) Amount {
	return Amount{Fixed: int(p.GetFixed()), Percent: int(p.GetPercent()), Calculated: int(p.GetCalculated())}
}
