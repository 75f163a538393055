package gcefake

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

func TestCreateInstanceAllocatesNICs(t *testing.T) {
	s, _ := newFake(t, Options{})
	a := mustInstance(t, s, "fwd-1")
	b := mustInstance(t, s, "fwd-2")
	want := InstanceNIC{Network: "vpc-b", Subnet: "10.19.16.0/20", IP: "10.19.16.2", MAC: "42:01:0a:13:10:02", Gateway: "10.19.16.1", Subnetmask: "255.255.240.0"}
	if a.NICs[1] != want {
		t.Errorf("fwd-1 nic1 = %+v, want %+v", a.NICs[1], want)
	}
	if b.NICs[0].IP != "10.0.1.3" || b.NICs[0].Gateway != "10.0.1.1" {
		t.Errorf("fwd-2 nic0 = %+v, want 10.0.1.3 via 10.0.1.1", b.NICs[0])
	}
	if len(strconv.FormatUint(a.ID, 10)) != 19 || a.ID == b.ID {
		t.Errorf("ids %d, %d: want distinct 19-digit numbers", a.ID, b.ID)
	}
	if a.Status != StatusRunning || a.MetadataHost == "" || a.CreationTimestamp.IsZero() {
		t.Errorf("fwd-1 = %+v", a)
	}
	if _, err := s.CreateInstance(InstanceSpec{Project: proj, Zone: zoneA, Name: "fwd-1", NICs: twoNICs}); err == nil {
		t.Error("duplicate CreateInstance succeeded")
	}
	// A removed instance's address is free again.
	if err := s.DeleteInstance(proj, zoneA, "fwd-1"); err != nil {
		t.Fatal(err)
	}
	c := mustInstance(t, s, "fwd-3")
	if c.NICs[0].IP != "10.0.1.2" {
		t.Errorf("fwd-3 nic0 %s, want the freed 10.0.1.2", c.NICs[0].IP)
	}
}

func TestInstancesGetAndListWithRealClient(t *testing.T) {
	s, ts := newFake(t, Options{})
	for i := range 5 {
		mustInstance(t, s, fmt.Sprintf("vm-%d", i))
	}
	if _, err := s.CreateInstance(InstanceSpec{Project: proj, Zone: "us-central1-b", Name: "elsewhere", NICs: twoNICs}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(proj, zoneA, "vm-3", StatusTerminated); err != nil {
		t.Fatal(err)
	}
	c := instancesClient(t, ts)
	ctx := ctxT(t)

	want, _ := s.Instance(proj, zoneA, "vm-1")
	got, err := c.Get(ctx, &computepb.GetInstanceRequest{Project: proj, Zone: zoneA, Instance: "vm-1"})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.GetId() != want.ID || got.GetStatus() != "RUNNING" ||
		got.GetZone() != "https://www.googleapis.com/compute/v1/projects/proj-a/zones/us-central1-a" ||
		got.GetSelfLink() != "https://www.googleapis.com/compute/v1/projects/proj-a/zones/us-central1-a/instances/vm-1" {
		t.Errorf("get: id %d status %s zone %s selfLink %s", got.GetId(), got.GetStatus(), got.GetZone(), got.GetSelfLink())
	}
	nics := got.GetNetworkInterfaces()
	if len(nics) != 2 || nics[1].GetNetworkIP() != want.NICs[1].IP ||
		nics[1].GetNetwork() != "https://www.googleapis.com/compute/v1/projects/proj-a/global/networks/vpc-b" || nics[1].GetName() != "nic1" {
		t.Errorf("get: nics %v", nics)
	}
	if ts, err := time.Parse(time.RFC3339, got.GetCreationTimestamp()); err != nil || ts.Sub(want.CreationTimestamp).Abs() > time.Second {
		t.Errorf("creationTimestamp %q: %v", got.GetCreationTimestamp(), err)
	}
	if _, err := c.Get(ctx, &computepb.GetInstanceRequest{Project: proj, Zone: zoneA, Instance: "nope"}); apiErr(t, err).Code != 404 {
		t.Errorf("get missing: %v, want 404", err)
	}

	list := func(filter string) (names []string) {
		s.ResetRequestCounts()
		it := c.List(ctx, &computepb.ListInstancesRequest{Project: proj, Zone: zoneA, MaxResults: proto.Uint32(2), Filter: proto.String(filter)})
		for {
			in, err := it.Next()
			if err == iterator.Done {
				return names
			}
			if err != nil {
				t.Fatalf("list %q: %v", filter, err)
			}
			names = append(names, in.GetName()+"="+in.GetStatus())
		}
	}
	if got := fmt.Sprint(list("")); got != "[vm-0=RUNNING vm-1=RUNNING vm-2=RUNNING vm-3=TERMINATED vm-4=RUNNING]" {
		t.Errorf("list = %s", got)
	}
	if n := s.RequestCounts()["instances.list"]; n != 3 {
		t.Errorf("5 instances in pages of 2: %d calls, want 3", n)
	}
	if got := fmt.Sprint(list(`status eq "RUNNING"`)); got != "[vm-0=RUNNING vm-1=RUNNING vm-2=RUNNING vm-4=RUNNING]" {
		t.Errorf("list RUNNING = %s", got)
	}

	agg := c.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: proj})
	zones := map[string]int{}
	for {
		pair, err := agg.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatalf("aggregated list: %v", err)
		}
		zones[pair.Key] += len(pair.Value.GetInstances())
	}
	if zones["zones/us-central1-a"] != 5 || zones["zones/us-central1-b"] != 1 {
		t.Errorf("aggregated list per zone: %v", zones)
	}
}
