package gcefake

import (
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// A stop and a start through the real client: the member's guest is
// stopped and started again, the instance keeps its id, and its
// lastStartTimestamp moves while creationTimestamp stays.
func TestStopStartMovesLastStartTimestamp(t *testing.T) {
	rec := &recorder{}
	s, ts := newFake(t, Options{Lifecycle: rec, BootDelay: 100 * time.Millisecond})
	if err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Zone: zoneA, TargetSize: 1, NICs: twoNICs}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "started", func() bool { return rec.has("started") })
	c := instancesClient(t, ts)
	ctx := ctxT(t)
	name := s.Instances()[0].Name
	get := func() *computepb.Instance {
		t.Helper()
		in, err := c.Get(ctx, &computepb.GetInstanceRequest{Project: proj, Zone: zoneA, Instance: name})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	before := get()
	op, err := c.Stop(ctx, &computepb.StopInstanceRequest{Project: proj, Zone: zoneA, Instance: name})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("stop: %v", err)
	}
	eventually(t, "TERMINATED", func() bool { return get().GetStatus() == StatusTerminated })
	if !rec.has("stopped " + name) {
		t.Errorf("the guest was not stopped: %v", rec.events)
	}
	time.Sleep(10 * time.Millisecond) // timestamps have millisecond precision
	op, err = c.Start(ctx, &computepb.StartInstanceRequest{Project: proj, Zone: zoneA, Instance: name})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("start: %v", err)
	}
	eventually(t, "RUNNING again", func() bool { return get().GetStatus() == StatusRunning })
	after := get()
	if after.GetId() != before.GetId() || after.GetCreationTimestamp() != before.GetCreationTimestamp() ||
		after.GetLastStartTimestamp() <= before.GetLastStartTimestamp() || after.GetLastStopTimestamp() == "" {
		t.Errorf("after stop/start: id %d→%d created %s→%s lastStart %s→%s lastStop %q",
			before.GetId(), after.GetId(), before.GetCreationTimestamp(), after.GetCreationTimestamp(),
			before.GetLastStartTimestamp(), after.GetLastStartTimestamp(), after.GetLastStopTimestamp())
	}
	eventually(t, "started twice", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := 0
		for _, e := range rec.events {
			if len(e) > 8 && e[:8] == "started " {
				n++
			}
		}
		return n == 2
	})
}
