package gcefake

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// loopbackNICs puts nic0 on 127.0.0.0/24: members' nic0 addresses (from
// 127.0.0.2) are reachable on this machine, so the autohealer can probe
// them.
var loopbackNICs = []NICSpec{{Network: "vpc-a", Subnet: "127.0.0.0/24"}, {Network: "vpc-b", Subnet: "10.19.16.0/20"}}

// healthFarm answers health checks on every loopback address: 200 unless
// the address was marked sick.
type healthFarm struct {
	port int
	mu   sync.Mutex
	sick map[string]bool
}

func newHealthFarm(t *testing.T) *healthFarm {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &healthFarm{port: ln.Addr().(*net.TCPAddr).Port, sick: map[string]bool{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		f.mu.Lock()
		sick := f.sick[host]
		f.mu.Unlock()
		if sick || r.URL.Path != "/healthz" {
			http.Error(w, "sick", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

func (f *healthFarm) setSick(ip string, sick bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sick[ip] = sick
}

func TestAutohealingVerifiesAndRecreatesUnhealthyMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of simulated time: full tier only (make test)")
	}
	farm := newHealthFarm(t)
	s, ts := newFake(t, Options{BootDelay: time.Second})
	err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Zone: zoneA, TargetSize: 2, NICs: loopbackNICs,
		AutoHealing: &AutoHealing{Port: farm.port, Path: "/healthz", Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond,
			HealthyThreshold: 2, UnhealthyThreshold: 2, InitialDelay: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := compute.NewInstanceGroupManagersRESTClient(ctxT(t), clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Right after creation the members have neither id nor status.
	first := managed(t, c, "fwd")
	if len(first) != 2 || first[0].Id != nil || first[0].InstanceStatus != nil || first[0].GetCurrentAction() != "CREATING" {
		t.Errorf("members right after creation: %v, want CREATING without id and instanceStatus", first)
	}
	sawVerifying := false
	eventually(t, "both members verified", func() bool {
		mis := managed(t, c, "fwd")
		for _, mi := range mis {
			sawVerifying = sawVerifying || (mi.GetCurrentAction() == "VERIFYING" && mi.GetInstanceStatus() == StatusRunning)
		}
		return allRunning(mis, 2)
	})
	if !sawVerifying {
		t.Error("no member was seen VERIFYING between RUNNING and NONE")
	}
	victim := managed(t, c, "fwd")[0]
	in, _ := s.Instance(proj, zoneA, victim.GetName())
	farm.setSick(in.NICs[0].IP, true)
	eventually(t, "the sick member RECREATING", func() bool {
		for _, mi := range managed(t, c, "fwd") {
			if mi.GetName() == victim.GetName() && mi.GetCurrentAction() == "RECREATING" {
				return true
			}
		}
		return false
	})
	farm.setSick(in.NICs[0].IP, false)
	eventually(t, "the recreated member verified with a new id", func() bool {
		mis := managed(t, c, "fwd")
		for _, mi := range mis {
			if mi.GetName() == victim.GetName() && mi.GetId() == victim.GetId() {
				return false
			}
		}
		return allRunning(mis, 2)
	})
	now, _ := s.Instance(proj, zoneA, victim.GetName())
	if !now.LastStartTimestamp.After(in.LastStartTimestamp) {
		t.Errorf("lastStartTimestamp %v after recreate, want later than %v", now.LastStartTimestamp, in.LastStartTimestamp)
	}
}

// A PROACTIVE update with maxSurge 1 and maxUnavailable 0 replaces every
// member while never having fewer than the target size available nor more
// than one extra member.
func TestProactiveUpdateHonoursSurgeAndUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of simulated time: full tier only (make test)")
	}
	s, ts := newFake(t, Options{BootDelay: 100 * time.Millisecond, OpLatency: Fixed(20 * time.Millisecond)})
	if err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Zone: zoneA, TargetSize: 2, NICs: twoNICs, InstanceTemplate: "fwd-v1"}); err != nil {
		t.Fatal(err)
	}
	s.DefineTemplate(proj, "fwd-v2", Template{Metadata: map[string]string{"release": "v2"}})
	c, err := compute.NewInstanceGroupManagersRESTClient(ctxT(t), clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	eventually(t, "2 members", func() bool { return allRunning(managed(t, c, "fwd"), 2) })
	before := managed(t, c, "fwd")

	// An OPPORTUNISTIC group keeps its members on a template change.
	op, err := c.SetInstanceTemplate(ctx, &computepb.SetInstanceTemplateInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd",
		InstanceGroupManagersSetInstanceTemplateRequestResource: &computepb.InstanceGroupManagersSetInstanceTemplateRequest{InstanceTemplate: proto.String("global/instanceTemplates/fwd-v2")}})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("setInstanceTemplate: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if got := managed(t, c, "fwd"); len(got) != 2 || got[0].GetId() != before[0].GetId() || !strings.HasSuffix(got[0].GetVersion().GetInstanceTemplate(), "/fwd-v1") {
		t.Fatalf("OPPORTUNISTIC group after setInstanceTemplate: %v, want its members untouched", got)
	}

	var mu sync.Mutex
	minAvail, maxTotal := 2, 2
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			s.mu.Lock()
			g := s.groups[groupKey(proj, zoneA, "fwd")]
			avail, total := 0, 0
			for _, in := range s.membersLocked(g) {
				if in.action != "DELETING" {
					total++
				}
				if available(in) {
					avail++
				}
			}
			s.mu.Unlock()
			mu.Lock()
			minAvail, maxTotal = min(minAvail, avail), max(maxTotal, total)
			mu.Unlock()
		}
	}()
	op, err = c.Patch(ctx, &computepb.PatchInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd",
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{UpdatePolicy: &computepb.InstanceGroupManagerUpdatePolicy{
			Type: proto.String("PROACTIVE"), MaxSurge: &computepb.FixedOrPercent{Fixed: proto.Int32(1)}, MaxUnavailable: &computepb.FixedOrPercent{Fixed: proto.Int32(0)}}}})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("patch: %v", err)
	}
	eventually(t, "every member on fwd-v2", func() bool {
		mis := managed(t, c, "fwd")
		for _, mi := range mis {
			if !strings.HasSuffix(mi.GetVersion().GetInstanceTemplate(), "/fwd-v2") {
				return false
			}
		}
		return allRunning(mis, 2)
	})
	close(stop)
	<-done
	if minAvail < 2 || maxTotal > 3 {
		t.Errorf("during the update: fewest available %d (want >= 2), most members %d (want <= 3)", minAvail, maxTotal)
	}
	for _, mi := range managed(t, c, "fwd") {
		if mi.GetId() == before[0].GetId() || mi.GetId() == before[1].GetId() {
			t.Errorf("member %s kept its id through the update", mi.GetName())
		}
		in, _ := s.Instance(proj, zoneA, mi.GetName())
		if in.Template == "" || s.metadataOf(in)["release"] != "v2" {
			t.Errorf("member %s: template %q metadata %v, want fwd-v2's", in.Name, in.Template, s.metadataOf(in))
		}
	}
	g, err := c.Get(ctx, &computepb.GetInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd"})
	if err != nil || g.GetUpdatePolicy().GetType() != "PROACTIVE" || !g.GetStatus().GetVersionTarget().GetIsReached() ||
		len(g.GetVersions()) != 1 || !strings.HasSuffix(g.GetVersions()[0].GetInstanceTemplate(), "/global/instanceTemplates/fwd-v2") {
		t.Errorf("group after the update: %v, %v", g, err)
	}
	// maxSurge and maxUnavailable may not both be 0.
	_, err = c.Patch(ctx, &computepb.PatchInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd",
		InstanceGroupManagerResource: &computepb.InstanceGroupManager{UpdatePolicy: &computepb.InstanceGroupManagerUpdatePolicy{
			MaxSurge: &computepb.FixedOrPercent{Fixed: proto.Int32(0)}}}})
	if apiErr(t, err).Code != http.StatusBadRequest {
		t.Errorf("patch to maxSurge 0 and maxUnavailable 0: %v, want 400", err)
	}
}

// metadataOf returns in's current metadata.
func (s *Server) metadataOf(in Instance) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.instances[instKey(in.Project, in.Zone, in.Name)]; cur != nil {
		return cur.metadata
	}
	return nil
}

func TestCreateInstancesAndPagelessList(t *testing.T) {
	s, ts := newFake(t, Options{})
	if err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Zone: zoneA, TargetSize: 2, NICs: twoNICs}); err != nil {
		t.Fatal(err)
	}
	c, err := compute.NewInstanceGroupManagersRESTClient(ctxT(t), clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	op, err := c.CreateInstances(ctx, &computepb.CreateInstancesInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd",
		InstanceGroupManagersCreateInstancesRequestResource: &computepb.InstanceGroupManagersCreateInstancesRequest{
			Instances: []*computepb.PerInstanceConfig{{Name: proto.String("fwd-named")}}}})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("createInstances: %v", err)
	}
	// managed() asks for pages of 2; a PAGELESS group answers all 3 at once.
	s.ResetRequestCounts()
	mis := managed(t, c, "fwd")
	if len(mis) != 3 || s.RequestCounts()["instanceGroupManagers.listManagedInstances"] != 1 {
		t.Errorf("listManagedInstances: %d members in %d calls, want 3 in 1", len(mis), s.RequestCounts()["instanceGroupManagers.listManagedInstances"])
	}
	if _, ok := s.Instance(proj, zoneA, "fwd-named"); !ok {
		t.Error("createInstances did not create fwd-named")
	}
	g, err := c.Get(ctx, &computepb.GetInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd"})
	if err != nil || g.GetTargetSize() != 3 || g.GetListManagedInstancesResults() != "PAGELESS" {
		t.Errorf("group after createInstances: size %d results %q, %v", g.GetTargetSize(), g.GetListManagedInstancesResults(), err)
	}
	_, err = c.CreateInstances(ctx, &computepb.CreateInstancesInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd",
		InstanceGroupManagersCreateInstancesRequestResource: &computepb.InstanceGroupManagersCreateInstancesRequest{
			Instances: []*computepb.PerInstanceConfig{{Name: proto.String("fwd-named")}}}})
	if apiErr(t, err).Code != http.StatusConflict {
		t.Errorf("createInstances of an existing name: %v, want 409", err)
	}
}

// Members stopped by the MIG get their template's graceful-shutdown budget.
func TestShutdownBudgetBoundsTheGuestsStop(t *testing.T) {
	rec := &recorder{stopDelay: 5 * time.Second}
	s, _ := newFake(t, Options{Lifecycle: rec})
	if err := s.CreateGroup(GroupSpec{Project: proj, Name: "fwd", Zone: zoneA, TargetSize: 1, NICs: twoNICs,
		GracefulShutdown: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "started", func() bool { return rec.has("started") })
	in := s.Instances()[0]
	start := time.Now()
	s.mu.Lock()
	s.stopMemberLocked(s.instances[instKey(proj, zoneA, in.Name)], "DELETING")
	s.mu.Unlock()
	eventually(t, "stopped", func() bool { return rec.has("stopped " + in.Name) })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop took %v; the 200ms graceful-shutdown budget should have ended it", d)
	}
}
