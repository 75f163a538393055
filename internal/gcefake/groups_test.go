package gcefake

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// recorder is a Lifecycle that records what it was told; Stopping takes
// stopDelay, like a guest shutting down.
type recorder struct {
	stopDelay time.Duration
	mu        sync.Mutex
	events    []string
}

func (r *recorder) Started(in Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("started %s %d %s", in.Name, in.ID, in.Status))
}

func (r *recorder) Stopping(ctx context.Context, in Instance) {
	select {
	case <-time.After(r.stopDelay):
	case <-ctx.Done():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("stopped %s %d %s", in.Name, in.ID, in.Status))
}

func (r *recorder) has(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

// managed lists a zonal group through the real client as "name status action".
func managed(t *testing.T, c *compute.InstanceGroupManagersClient, name string) []*computepb.ManagedInstance {
	t.Helper()
	it := c.ListManagedInstances(ctxT(t), &computepb.ListManagedInstancesInstanceGroupManagersRequest{
		Project: proj, Zone: zoneA, InstanceGroupManager: name, MaxResults: proto.Uint32(2)})
	var out []*computepb.ManagedInstance
	for {
		mi, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatalf("listManagedInstances: %v", err)
		}
		out = append(out, mi)
	}
}

func allRunning(mis []*computepb.ManagedInstance, n int) bool {
	if len(mis) != n {
		return false
	}
	for _, mi := range mis {
		if mi.GetInstanceStatus() != StatusRunning || mi.GetCurrentAction() != "NONE" {
			return false
		}
	}
	return true
}

func TestZonalGroupLifecycleWithRealClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a whole group lifecycle with boot and stop delays (full tier)")
	}
	rec := &recorder{stopDelay: 500 * time.Millisecond}
	s, ts := newFake(t, Options{BootDelay: time.Second, Lifecycle: rec})
	if err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Zone: zoneA, TargetSize: 3, NICs: twoNICs,
		Metadata: map[string]string{"vpclink-config": "x"}}); err != nil {
		t.Fatal(err)
	}
	c, err := compute.NewInstanceGroupManagersRESTClient(ctxT(t), clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)

	first := managed(t, c, "fwd")
	if len(first) != 3 || first[0].GetCurrentAction() != "CREATING" || first[0].GetInstanceStatus() == StatusRunning {
		t.Fatalf("right after CreateGroup: %v", first)
	}
	var mis []*computepb.ManagedInstance
	eventually(t, "3 RUNNING members", func() bool { mis = managed(t, c, "fwd"); return allRunning(mis, 3) })
	name := regexp.MustCompile(`^fwd-[a-z0-9]{4}$`)
	for _, mi := range mis {
		in, ok := s.Instance(proj, zoneA, mi.GetName())
		if !name.MatchString(mi.GetName()) || !ok || in.ID != mi.GetId() || in.Group != "fwd" ||
			mi.GetInstance() != instanceURL(proj, zoneA, mi.GetName()) {
			t.Errorf("member %v vs instance %+v", mi, in)
		}
		if !rec.has(fmt.Sprintf("started %s %d RUNNING", in.Name, in.ID)) {
			t.Errorf("Lifecycle.Started not called for %s", in.Name)
		}
	}

	// Recreate: same name, new id, the old incarnation's guest stopped first.
	victim := mis[0]
	op, err := c.RecreateInstances(ctx, &computepb.RecreateInstancesInstanceGroupManagerRequest{
		Project: proj, Zone: zoneA, InstanceGroupManager: "fwd",
		InstanceGroupManagersRecreateInstancesRequestResource: &computepb.InstanceGroupManagersRecreateInstancesRequest{Instances: []string{victim.GetInstance()}},
	})
	if err != nil {
		t.Fatalf("recreate: %v", err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatalf("recreate wait: %v", err)
	}
	if in, _ := s.Instance(proj, zoneA, victim.GetName()); in.Status != StatusStopping {
		t.Errorf("recreated instance status %s, want STOPPING while its guest shuts down", in.Status)
	}
	eventually(t, "recreated member RUNNING with a new id", func() bool {
		in, ok := s.Instance(proj, zoneA, victim.GetName())
		return ok && in.ID != victim.GetId() && in.Status == StatusRunning
	})
	if !rec.has(fmt.Sprintf("stopped %s %d STOPPING", victim.GetName(), victim.GetId())) {
		t.Errorf("Lifecycle.Stopping not called for the old incarnation: %v", rec.events)
	}

	// deleteInstances lowers the target size; resize grows it again.
	op, err = c.DeleteInstances(ctx, &computepb.DeleteInstancesInstanceGroupManagerRequest{
		Project: proj, Zone: zoneA, InstanceGroupManager: "fwd",
		InstanceGroupManagersDeleteInstancesRequestResource: &computepb.InstanceGroupManagersDeleteInstancesRequest{Instances: []string{mis[1].GetInstance()}},
	})
	if err != nil {
		t.Fatalf("deleteInstances: %v", err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatalf("deleteInstances wait: %v", err)
	}
	if got := managed(t, c, "fwd"); len(got) != 3 || actionOf(got, mis[1].GetName()) != "DELETING" {
		t.Errorf("during deleteInstances: %v", got)
	}
	eventually(t, "2 members after deleteInstances", func() bool { return allRunning(managed(t, c, "fwd"), 2) })
	g, err := c.Get(ctx, &computepb.GetInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd"})
	if err != nil || g.GetTargetSize() != 2 {
		t.Fatalf("get group: size %d, %v", g.GetTargetSize(), err)
	}
	op, err = c.Resize(ctx, &computepb.ResizeInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd", Size: 4})
	if err != nil {
		t.Fatalf("resize: %v", err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatalf("resize wait: %v", err)
	}
	eventually(t, "4 members after resize", func() bool { return allRunning(managed(t, c, "fwd"), 4) })

	// A member that is not in the group is refused.
	_, err = c.RecreateInstances(ctx, &computepb.RecreateInstancesInstanceGroupManagerRequest{
		Project: proj, Zone: zoneA, InstanceGroupManager: "fwd",
		InstanceGroupManagersRecreateInstancesRequestResource: &computepb.InstanceGroupManagersRecreateInstancesRequest{Instances: []string{instanceURL(proj, zoneA, "stranger")}},
	})
	if apiErr(t, err).Code != 400 {
		t.Errorf("recreate of a non-member: %v, want 400", err)
	}
	if _, err := c.Get(ctx, &computepb.GetInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "nope"}); apiErr(t, err).Code != 404 {
		t.Errorf("get missing group: %v, want 404", err)
	}
}

func actionOf(mis []*computepb.ManagedInstance, name string) string {
	for _, mi := range mis {
		if mi.GetName() == name {
			return mi.GetCurrentAction()
		}
	}
	return ""
}

func TestRegionalGroupSpreadsOverZones(t *testing.T) {
	t.Parallel()
	s, ts := newFake(t, Options{OpLatency: Fixed(50 * time.Millisecond)})
	if err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Region: "us-central1", TargetSize: 3, NICs: twoNICs}); err != nil {
		t.Fatal(err)
	}
	c, err := compute.NewRegionInstanceGroupManagersRESTClient(ctxT(t), clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	list := func() (zones []string) {
		it := c.ListManagedInstances(ctx, &computepb.ListManagedInstancesRegionInstanceGroupManagersRequest{
			Project: proj, Region: "us-central1", InstanceGroupManager: "fwd"})
		for {
			mi, err := it.Next()
			if err == iterator.Done {
				sort.Strings(zones)
				return zones
			}
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			p, z, _, _ := parseInstanceRef("", mi.GetInstance())
			if p != proj || mi.GetInstanceStatus() == "" {
				t.Errorf("member %v", mi)
			}
			zones = append(zones, z)
		}
	}
	if got := fmt.Sprint(list()); got != "[us-central1-a us-central1-b us-central1-c]" {
		t.Errorf("zones of 3 members: %s", got)
	}
	op, err := c.Resize(ctx, &computepb.ResizeRegionInstanceGroupManagerRequest{Project: proj, Region: "us-central1", InstanceGroupManager: "fwd", Size: 1})
	if err != nil {
		t.Fatalf("resize: %v", err)
	}
	if op.Done() {
		t.Error("regional operation DONE before its latency")
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatalf("resize wait (region operations get): %v", err)
	}
	if !strings.HasSuffix(op.Proto().GetRegion(), "/regions/us-central1") {
		t.Errorf("operation region %q", op.Proto().GetRegion())
	}
	eventually(t, "1 member", func() bool { return len(list()) == 1 })
}

// DeleteGroup refuses a group with members, removes an empty one (the API
// then answers 404 for it) and lets a group of the same name be created with
// another spec.
func TestDeleteGroupThenRecreateWithAnotherSpec(t *testing.T) {
	s, ts := newFake(t, Options{})
	if err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Zone: zoneA, TargetSize: 1, NICs: twoNICs}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(proj, zoneA, "fwd"); err == nil || !strings.Contains(err.Error(), "1 members left") {
		t.Fatalf("delete with a member: %v", err)
	}
	c, err := compute.NewInstanceGroupManagersRESTClient(ctxT(t), clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	op, err := c.Resize(ctx, &computepb.ResizeInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd", Size: 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "group empty", func() bool { return s.DeleteGroup(proj, zoneA, "fwd") == nil })
	if _, err := c.Get(ctx, &computepb.GetInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd"}); err == nil {
		t.Fatal("get of a deleted group succeeded")
	}
	heal := &AutoHealing{Port: 9780, Interval: time.Second, InitialDelay: time.Minute}
	if err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Zone: zoneA, NICs: twoNICs, AutoHealing: heal}); err != nil {
		t.Fatalf("recreate with autohealing: %v", err)
	}
}
