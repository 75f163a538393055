package reconciler

import (
	"context"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// A prune is issued as soon as the verdict changes, while the restores of
// an earlier pass are still in flight (invariant 11).
func TestPruneDoesNotWaitForInserts(t *testing.T) {
	h, _ := setup(t)
	insts := h.instances()
	victim, restored := insts[0], insts[1]
	for _, name := range h.routesOf(restored.ID) {
		if err := h.api.Routes.Delete(context.Background(), testProject, name); err != nil {
			t.Fatal(err)
		}
	}
	h.fake.SetOpLatency("routes.insert", gcefake.Fixed(3*time.Second))
	r, _ := h.start("r1")
	h.waitFor("restores in flight", 5*time.Second, func() bool { return h.fake.RequestCounts()["routes.insert"] > 0 })
	h.agent(victim).mode.Store(agentHung)
	h.waitFor("the hung forwarder's routes deleted", 5*time.Second, func() bool { return len(h.routesOf(victim.ID)) == 0 })
	if got := len(h.routesOf(restored.ID)); got != 0 {
		t.Fatalf("the prune waited for the restores: %d of them were DONE first", got)
	}
	h.waitFor("restores done", 10*time.Second, func() bool { return len(h.routesOf(restored.ID)) == len(wantedRanges) })
	_ = r
}

// An agent that answers that it is still announcing (after a restart, say)
// is Starting: its routes stay, however long the announcing takes.
func TestAnnouncingForwarderIsNeverPruned(t *testing.T) {
	h, _ := setup(t)
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	victim := h.instances()[0]
	h.agent(victim).mode.Store(agentAnnouncing)
	// Well past failures × interval and the boot grace (1 s).
	time.Sleep(1500 * time.Millisecond)
	h.agent(victim).mode.Store(agentReady)
	time.Sleep(300 * time.Millisecond)
	if n := h.fake.RequestCounts()["routes.delete"]; n != 0 {
		t.Fatalf("%d deletes while a forwarder announced", n)
	}
	if got := len(h.routesOf(victim.ID)); got != len(wantedRanges) {
		t.Fatalf("announcing forwarder has %d routes, want %d", got, len(wantedRanges))
	}
}

// A draining agent withdraws its own routes: the reconciler neither prunes
// (its probes answer 503) nor restores them.
func TestDrainingForwarderIsLeftToItsDrain(t *testing.T) {
	h, _ := setup(t)
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	victim := h.instances()[0]
	h.agent(victim).mode.Store(agentDraining)
	time.Sleep(200 * time.Millisecond) // the verdict turns Draining
	for _, name := range h.routesOf(victim.ID) {
		if err := h.api.Routes.Delete(context.Background(), testProject, name); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if n := h.fake.RequestCounts()["routes.insert"]; n != 0 {
		t.Fatalf("%d inserts for a draining forwarder", n)
	}
}

// A prune refused by a rate-limit window keeps trying, holds restores back,
// and is the first mutation once the window opens.
func TestPruneWaitsOutRateLimitWindow(t *testing.T) {
	h, _ := setup(t)
	insts := h.instances()
	victim, restored := insts[0], insts[1]
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	// A restore is due, and refused, before the prune.
	h.fake.SetFault("routes.insert", gcefake.Fault{Rate: 1, Codes: []int{403}})
	for _, name := range h.routesOf(restored.ID) {
		if err := h.api.Routes.Delete(context.Background(), testProject, name); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("the restore refused", 5*time.Second, func() bool { return h.fake.RequestCounts()["routes.insert"] > 0 })
	h.fake.SetFault("routes.delete", gcefake.Fault{Rate: 1, Codes: []int{403}})
	h.agent(victim).mode.Store(agentHung)
	h.waitFor("the prune refused repeatedly", 5*time.Second, func() bool { return h.fake.RequestCounts()["routes.delete"] > 20 })
	time.Sleep(500 * time.Millisecond) // inserts already issued end their own retries
	h.fake.ResetRequestCounts()
	time.Sleep(time.Second)
	if n := h.fake.RequestCounts()["routes.insert"]; n != 0 {
		t.Fatalf("%d inserts tried while a prune waited for the window", n)
	}
	opened := time.Now()
	h.fake.SetFault("routes.delete", gcefake.Fault{})
	h.fake.SetFault("routes.insert", gcefake.Fault{})
	h.waitFor("the prune lands", 5*time.Second, func() bool { return len(h.routesOf(victim.ID)) == 0 })
	h.waitFor("the restore follows", 5*time.Second, func() bool { return len(h.routesOf(restored.ID)) == len(wantedRanges) })
	var first string
	for _, op := range h.fake.OperationLog() {
		if op.Issued.After(opened) {
			first = op.Method
			break
		}
	}
	if first != "routes.delete" {
		t.Fatalf("first operation once the window opened: %q, want routes.delete", first)
	}
}

// Reads that fail do not stop a prune of routes already judged: the verdict
// is acted on with the last snapshot.
func TestPruneWhileReadsFail(t *testing.T) {
	h, _ := setup(t)
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	victim := h.instances()[0]
	for _, m := range []string{"routes.list", "instances.list", "instanceGroupManagers.listManagedInstances"} {
		h.fake.SetFault(m, gcefake.Fault{Rate: 1, Codes: []int{500}})
	}
	h.agent(victim).mode.Store(agentHung)
	h.waitFor("the hung forwarder's routes deleted without reads", 5*time.Second, func() bool { return len(h.routesOf(victim.ID)) == 0 })
}
