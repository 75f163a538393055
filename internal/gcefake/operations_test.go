package gcefake

import (
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
)

func TestOperationsGetAndWaitInEveryScope(t *testing.T) {
	s, ts := newFake(t, Options{OpLatency: Fixed(200 * time.Millisecond)})
	ctx := ctxT(t)
	for _, g := range []GroupSpec{
		{Project: proj, Name: "zonal", Zone: zoneA, TargetSize: 1, NICs: twoNICs},
		{Project: proj, Name: "regional", Region: "us-central1", TargetSize: 1, NICs: twoNICs},
	} {
		if err := s.CreateGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	zonal, err := compute.NewInstanceGroupManagersRESTClient(ctx, clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer zonal.Close()
	regional, err := compute.NewRegionInstanceGroupManagersRESTClient(ctx, clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer regional.Close()
	zoneOps, err := compute.NewZoneOperationsRESTClient(ctx, clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer zoneOps.Close()
	regionOps, err := compute.NewRegionOperationsRESTClient(ctx, clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer regionOps.Close()

	zop, err := zonal.Resize(ctx, &computepb.ResizeInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "zonal", Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	rop, err := regional.Resize(ctx, &computepb.ResizeRegionInstanceGroupManagerRequest{Project: proj, Region: "us-central1", InstanceGroupManager: "regional", Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	got, err := zoneOps.Get(ctx, &computepb.GetZoneOperationRequest{Project: proj, Zone: zoneA, Operation: zop.Name()})
	if err != nil || got.GetStatus() == computepb.Operation_DONE {
		t.Errorf("zone operation get right away: %v, %v; want not DONE", got.GetStatus(), err)
	}
	got, err = zoneOps.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: proj, Zone: zoneA, Operation: zop.Name()})
	if err != nil || got.GetStatus() != computepb.Operation_DONE || got.GetZone() != zoneURL(proj, zoneA) {
		t.Errorf("zone operation wait: %v zone %q, %v", got.GetStatus(), got.GetZone(), err)
	}
	got, err = regionOps.Wait(ctx, &computepb.WaitRegionOperationRequest{Project: proj, Region: "us-central1", Operation: rop.Name()})
	if err != nil || got.GetStatus() != computepb.Operation_DONE || got.GetRegion() != regionURL(proj, "us-central1") {
		t.Errorf("region operation wait: %v region %q, %v", got.GetStatus(), got.GetRegion(), err)
	}
	// Operations live in their own scope only.
	_, err = zoneOps.Get(ctx, &computepb.GetZoneOperationRequest{Project: proj, Zone: "us-central1-b", Operation: zop.Name()})
	if apiErr(t, err).Code != 404 {
		t.Errorf("zone operation from another zone: %v, want 404", err)
	}
	counts := s.RequestCounts()
	for _, m := range []string{"zoneOperations.get", "zoneOperations.wait", "regionOperations.wait", "instanceGroupManagers.resize", "regionInstanceGroupManagers.resize"} {
		if counts[m] == 0 {
			t.Errorf("no %s counted: %v", m, counts)
		}
	}
}
