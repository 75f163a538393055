package gce

import (
	"context"
	"errors"
	"fmt"
	"math"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/vpclink/vpclink/internal/instanceid"
)

type groupsAPI struct {
	*core
	zonal    *compute.InstanceGroupManagersClient
	regional *compute.RegionInstanceGroupManagersClient
}

// String names the group in errors and logs: project/zone-or-region/name.
func (g GroupRef) String() string {
	loc := g.Zone
	if loc == "" {
		loc = g.Region
	}
	return g.Project + "/" + loc + "/" + g.Name
}

func (g GroupRef) validate() error {
	if (g.Zone == "") == (g.Region == "") {
		return errors.New("exactly one of zone and region must be set")
	}
	return nil
}

func (a *groupsAPI) ListManagedInstances(ctx context.Context, g GroupRef) ([]ManagedInstance, error) {
	if err := g.validate(); err != nil {
		return nil, fmt.Errorf("group %s: listManagedInstances: %w", g, err)
	}
	ctx, cancel := a.begin(ctx, "instanceGroupManagers.listManagedInstances")
	defer cancel()
	var it *compute.ManagedInstanceIterator
	if g.Zone != "" {
		it = a.zonal.ListManagedInstances(ctx, &computepb.ListManagedInstancesInstanceGroupManagersRequest{
			Project: g.Project, Zone: g.Zone, InstanceGroupManager: g.Name, MaxResults: proto.Uint32(listPageSize),
		}, noLibraryRetry)
	} else {
		it = a.regional.ListManagedInstances(ctx, &computepb.ListManagedInstancesRegionInstanceGroupManagersRequest{
			Project: g.Project, Region: g.Region, InstanceGroupManager: g.Name, MaxResults: proto.Uint32(listPageSize),
		}, noLibraryRetry)
	}
	var out []ManagedInstance
	for {
		mi, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("group %s: listManagedInstances: %w", g, err)
		}
		out = append(out, managedInstanceFromProto(mi))
	}
}

// Resize sets the group's target size and waits until the MIG accepted it.
func (a *groupsAPI) Resize(ctx context.Context, g GroupRef, size int64) error {
	if size < 0 || size > math.MaxInt32 {
		return fmt.Errorf("group %s: resize: size %d out of range", g, size)
	}
	return a.mutate(ctx, g, "resize",
		func(ctx context.Context) (*compute.Operation, error) {
			return a.zonal.Resize(ctx, &computepb.ResizeInstanceGroupManagerRequest{
				Project: g.Project, Zone: g.Zone, InstanceGroupManager: g.Name, Size: int32(size), RequestId: newRequestID(),
			})
		},
		func(ctx context.Context) (*compute.Operation, error) {
			return a.regional.Resize(ctx, &computepb.ResizeRegionInstanceGroupManagerRequest{
				Project: g.Project, Region: g.Region, InstanceGroupManager: g.Name, Size: int32(size), RequestId: newRequestID(),
			})
		})
}

// RecreateInstances asks the MIG to recreate the given instances (zonal
// URLs) and waits until it accepted the request.
func (a *groupsAPI) RecreateInstances(ctx context.Context, g GroupRef, instanceURLs []string) error {
	return a.mutate(ctx, g, "recreateInstances",
		func(ctx context.Context) (*compute.Operation, error) {
			return a.zonal.RecreateInstances(ctx, &computepb.RecreateInstancesInstanceGroupManagerRequest{
				Project: g.Project, Zone: g.Zone, InstanceGroupManager: g.Name, RequestId: newRequestID(),
				InstanceGroupManagersRecreateInstancesRequestResource: &computepb.InstanceGroupManagersRecreateInstancesRequest{Instances: instanceURLs},
			})
		},
		func(ctx context.Context) (*compute.Operation, error) {
			return a.regional.RecreateInstances(ctx, &computepb.RecreateInstancesRegionInstanceGroupManagerRequest{
				Project: g.Project, Region: g.Region, InstanceGroupManager: g.Name, RequestId: newRequestID(),
				RegionInstanceGroupManagersRecreateRequestResource: &computepb.RegionInstanceGroupManagersRecreateRequest{Instances: instanceURLs},
			})
		})
}

// DeleteInstances removes the given instances from the group (shrinking its
// target size) and waits until the MIG accepted the request.
func (a *groupsAPI) DeleteInstances(ctx context.Context, g GroupRef, instanceURLs []string) error {
	return a.mutate(ctx, g, "deleteInstances",
		func(ctx context.Context) (*compute.Operation, error) {
			return a.zonal.DeleteInstances(ctx, &computepb.DeleteInstancesInstanceGroupManagerRequest{
				Project: g.Project, Zone: g.Zone, InstanceGroupManager: g.Name, RequestId: newRequestID(),
				InstanceGroupManagersDeleteInstancesRequestResource: &computepb.InstanceGroupManagersDeleteInstancesRequest{Instances: instanceURLs},
			})
		},
		func(ctx context.Context) (*compute.Operation, error) {
			return a.regional.DeleteInstances(ctx, &computepb.DeleteInstancesRegionInstanceGroupManagerRequest{
				Project: g.Project, Region: g.Region, InstanceGroupManager: g.Name, RequestId: newRequestID(),
				RegionInstanceGroupManagersDeleteInstancesRequestResource: &computepb.RegionInstanceGroupManagersDeleteInstancesRequest{Instances: instanceURLs},
			})
		})
}

// mutate runs one change of a MIG: it validates the reference, puts the call
// under the deadline with its method name, calls the zonal or the regional
// API by the group's scope, and waits for the operation.
func (a *groupsAPI) mutate(ctx context.Context, g GroupRef, verb string, zonal, regional func(context.Context) (*compute.Operation, error)) error {
	if err := g.validate(); err != nil {
		return fmt.Errorf("group %s: %s: %w", g, verb, err)
	}
	ctx, cancel := a.begin(ctx, "instanceGroupManagers."+verb)
	defer cancel()
	call := regional
	if g.Zone != "" {
		call = zonal
	}
	op, err := call(ctx)
	return a.finish(ctx, g, verb, op, err)
}

// finish waits for a group operation and names the group in any error.
func (a *groupsAPI) finish(ctx context.Context, g GroupRef, verb string, op *compute.Operation, err error) error {
	if err == nil {
		err = a.wait(ctx, op)
	}
	if err != nil {
		return fmt.Errorf("group %s: %s: %w", g, verb, err)
	}
	return nil
}

func managedInstanceFromProto(p *computepb.ManagedInstance) ManagedInstance {
	url := p.GetInstance()
	name := p.GetName()
	if name == "" {
		name = lastSegment(url)
	}
	return ManagedInstance{
		Name:          name,
		ID:            instanceid.ID(p.GetId()),
		Zone:          segmentAfter(url, "zones"),
		URL:           url,
		Status:        p.GetInstanceStatus(),
		CurrentAction: p.GetCurrentAction(),
		Template:      p.GetVersion().GetInstanceTemplate(),
	}
}
