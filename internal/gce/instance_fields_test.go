package gce

import (
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// The fields the reconciler judges starts and drains by, read from the
// client's own type as the list call decodes it.
func TestInstanceFromProtoStartAndMetadata(t *testing.T) {
	p := &computepb.Instance{
		Name:               proto.String("fwd-1"),
		Id:                 proto.Uint64(7),
		CreationTimestamp:  proto.String("2026-12-03T09:00:00.000-08:00"),
		LastStartTimestamp: proto.String("2026-12-03T10:30:00.250-08:00"),
		Metadata: &computepb.Metadata{Items: []*computepb.Items{
			{Key: proto.String("vpclink-drain"), Value: proto.String("rollout")},
			{Key: proto.String("vpclink-config"), Value: proto.String("routes: []")},
		}},
	}
	in := instanceFromProto(p)
	want := time.Date(2026, 12, 3, 18, 30, 0, 250e6, time.UTC)
	if !in.LastStartTimestamp.Equal(want) {
		t.Errorf("LastStartTimestamp %v, want %v", in.LastStartTimestamp, want)
	}
	if in.Metadata["vpclink-drain"] != "rollout" || len(in.Metadata) != 2 {
		t.Errorf("Metadata %v, want vpclink-drain=rollout and vpclink-config", in.Metadata)
	}
	if in := instanceFromProto(&computepb.Instance{}); !in.LastStartTimestamp.IsZero() || in.Metadata != nil {
		t.Errorf("no start, no metadata: %+v", in)
	}
}
