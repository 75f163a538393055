package reconciler

import (
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gcefake"
)

// scopeRun is how long two deployments run side by side: a minute, or a
// few seconds under -short.
func scopeRun() time.Duration {
	if testing.Short() {
		return 3 * time.Second
	}
	return 60 * time.Second
}

// deployment is one reconciler's config over one group.
func deployment(h *harness, project, zone string) config.Reconciler {
	cfg := h.cfg
	cfg.Project = project
	cfg.Groups = []config.Group{{Name: testGroup, Zone: zone}}
	cfg.Allow = append([]config.Allow(nil), cfg.Allow...)
	cfg.Allow[0].Project = h.routeProject
	return cfg
}

// runSideBySide starts one reconciler per config and checks, after
// scopeRun, that neither touched anything: every forwarder is healthy and
// announced, so any delete or insert is one of the other's routes.
func runSideBySide(t *testing.T, h *harness, cfgs ...config.Reconciler) {
	for i, cfg := range cfgs {
		h.cfg = cfg
		r, _ := h.start("r" + string(rune('1'+i)))
		_ = r
	}
	before := h.routeNames()
	h.fake.ResetRequestCounts()
	time.Sleep(scopeRun())
	counts := h.fake.RequestCounts()
	if d, i := counts["routes.delete"], counts["routes.insert"]; d != 0 || i != 0 {
		t.Errorf("two deployments side by side: %d deletes, %d inserts; want none", d, i)
	}
	after := h.routeNames()
	for name := range before {
		if !after[name] {
			t.Errorf("route %s is gone", name)
		}
	}
}

func nics() []gcefake.NICSpec {
	return []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.0.0/16"}, {Network: "vpc-b", Subnet: "10.100.0.0/16"}}
}

// Two regions of one project, the same group name: each reconciler judges
// only its own region's routes (invariant 10). One deployment's agents
// write project= markers, the other's are older and are placed by next hop.
func TestTwoRegionsSameGroupName(t *testing.T) {
	const us, eu = "us-central1-a", "europe-west1-b"
	h := newHarnessWith(t,
		gcefake.GroupSpec{Project: testProject, Name: testGroup, Zone: us, TargetSize: 2, NICs: nics()},
		gcefake.GroupSpec{Project: testProject, Name: testGroup, Zone: eu, TargetSize: 2, NICs: nics()})
	for _, inst := range h.allInstances() {
		h.announceOf(inst, inst.Zone == us)
	}
	runSideBySide(t, h, deployment(h, testProject, us), deployment(h, testProject, eu))
}

// Two service projects with a group of the same name in the same zone,
// both writing routes into one Shared VPC host project.
func TestSharedVPCTwoServiceProjects(t *testing.T) {
	const zone = "us-central1-a"
	h := newHarnessWith(t,
		gcefake.GroupSpec{Project: "svc-1", Name: testGroup, Zone: zone, TargetSize: 2, NICs: nics()},
		gcefake.GroupSpec{Project: "svc-2", Name: testGroup, Zone: zone, TargetSize: 2, NICs: nics()})
	h.routeProject = "host"
	for _, inst := range h.allInstances() {
		h.announceOf(inst, h.agent(inst).project() == "svc-1")
	}
	runSideBySide(t, h, deployment(h, "svc-1", zone), deployment(h, "svc-2", zone))
}
