package gce

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/vpclink/vpclink/internal/instanceid"
)

type instancesAPI struct {
	*core
	client *compute.InstancesClient
}

func (a *instancesAPI) List(ctx context.Context, project, zone string) ([]Instance, error) {
	ctx, cancel := a.begin(ctx, "instances.list")
	defer cancel()
	it := a.client.List(ctx, &computepb.ListInstancesRequest{
		Project: project, Zone: zone, MaxResults: proto.Uint32(listPageSize),
	}, noLibraryRetry)
	var out []Instance
	for {
		in, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("instances of %s/%s: list: %w", project, zone, err)
		}
		out = append(out, instanceFromProto(in))
	}
}

func (a *instancesAPI) Get(ctx context.Context, project, zone, name string) (Instance, error) {
	ctx, cancel := a.begin(ctx, "instances.get")
	defer cancel()
	in, err := a.client.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: name}, noLibraryRetry)
	if err != nil {
		return Instance{}, fmt.Errorf("instance %s/%s/%s: get: %w", project, zone, name, err)
	}
	return instanceFromProto(in), nil
}

func instanceFromProto(p *computepb.Instance) Instance {
	in := Instance{
		Name:              p.GetName(),
		ID:                instanceid.ID(p.GetId()),
		Zone:              lastSegment(p.GetZone()),
		SelfLink:          p.GetSelfLink(),
		Status:            p.GetStatus(),
		CreationTimestamp: parseTimestamp(p.GetCreationTimestamp()),
		// computepb's LastStartTimestamp: RFC 3339, set at every start.
		LastStartTimestamp: parseTimestamp(p.GetLastStartTimestamp()),
	}
	in.Metadata, in.MetadataFingerprint = metadataFromProto(p.GetMetadata())
	for i, nic := range p.GetNetworkInterfaces() {
		in.NICs = append(in.NICs, NIC{Index: nicIndex(nic.GetName(), i), Network: nic.GetNetwork(), IP: nic.GetNetworkIP()})
	}
	return in
}

// nicIndex reads N from GCE's interface name "nicN", falling back to the
// position in the list, which GCE keeps in the same order.
func nicIndex(name string, position int) int {
	if n, err := strconv.Atoi(strings.TrimPrefix(name, "nic")); err == nil && strings.HasPrefix(name, "nic") {
		return n
	}
	return position
}
