package gcefake

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

func testRoute(name, dest string) *computepb.Route {
	return &computepb.Route{
		Name:            proto.String(name),
		Network:         proto.String("vpc-a"),
		DestRange:       proto.String(dest),
		Priority:        proto.Uint32(900),
		NextHopInstance: proto.String("zones/" + zoneA + "/instances/fwd-1"),
		Description:     proto.String("vpclink:v1 instance=fwd-1"),
	}
}

func TestRouteInsertGetDeleteWithRealClient(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)

	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.16.0/20")})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatalf("wait: %v", err)
	}
	got, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r1"})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if want := "https://www.googleapis.com/compute/v1/projects/proj-a/global/networks/vpc-a"; got.GetNetwork() != want {
		t.Errorf("network = %q, want %q", got.GetNetwork(), want)
	}
	if want := "https://www.googleapis.com/compute/v1/projects/proj-a/zones/us-central1-a/instances/fwd-1"; got.GetNextHopInstance() != want {
		t.Errorf("nextHopInstance = %q, want %q", got.GetNextHopInstance(), want)
	}
	if got.GetId() < 1e18 || got.GetKind() != "compute#route" || got.GetPriority() != 900 ||
		got.GetSelfLink() != "https://www.googleapis.com/compute/v1/projects/proj-a/global/routes/r1" {
		t.Errorf("route fields: id=%d kind=%q priority=%d selfLink=%q", got.GetId(), got.GetKind(), got.GetPriority(), got.GetSelfLink())
	}
	if _, err := time.Parse(time.RFC3339, got.GetCreationTimestamp()); err != nil {
		t.Errorf("creationTimestamp %q: %v", got.GetCreationTimestamp(), err)
	}
	if len(got.GetWarnings()) != 0 {
		t.Errorf("warnings on a route to a RUNNING instance: %v", got.GetWarnings())
	}

	// A duplicate fails on the call with 409 alreadyExists.
	_, err = c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.16.0/20")})
	if ge := apiErr(t, err); ge.Code != http.StatusConflict || reasonOf(ge) != "alreadyExists" {
		t.Errorf("duplicate insert: code %d reason %q, want 409 alreadyExists", ge.Code, reasonOf(ge))
	}

	op, err = c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r1"})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatalf("delete wait: %v", err)
	}
	_, err = c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r1"})
	if ge := apiErr(t, err); ge.Code != http.StatusNotFound || reasonOf(ge) != "notFound" {
		t.Errorf("get after delete: code %d reason %q, want 404 notFound", ge.Code, reasonOf(ge))
	}
	_, err = c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r1"})
	if ge := apiErr(t, err); ge.Code != http.StatusNotFound {
		t.Errorf("delete of missing route: code %d, want 404", ge.Code)
	}
}

func TestRouteInsertRejectsBadInput(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	cases := map[string]struct {
		mutate func(*computepb.Route)
		code   int
	}{
		"bad name":           {func(r *computepb.Route) { r.Name = proto.String("Bad_Name") }, 400},
		"bad range":          {func(r *computepb.Route) { r.DestRange = proto.String("10.0.0.0/40") }, 400},
		"two next hops":      {func(r *computepb.Route) { r.NextHopIp = proto.String("10.0.1.2") }, 400},
		"no next hop":        {func(r *computepb.Route) { r.NextHopInstance = nil }, 400},
		"missing instance":   {func(r *computepb.Route) { r.NextHopInstance = proto.String("zones/" + zoneA + "/instances/nope") }, 404},
		"priority too large": {func(r *computepb.Route) { r.Priority = proto.Uint32(70000) }, 400},
	}
	for name, tc := range cases {
		r := testRoute("r1", "10.19.16.0/20")
		tc.mutate(r)
		_, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: r})
		if ge := apiErr(t, err); ge.Code != tc.code {
			t.Errorf("%s: code %d, want %d (%v)", name, ge.Code, tc.code, err)
		}
	}
	if n := len(s.Routes(proj)); n != 0 {
		t.Errorf("rejected inserts left %d routes", n)
	}
}

func TestRouteOperationIsAsynchronous(t *testing.T) {
	t.Parallel()
	s, ts := newFake(t, Options{OpLatency: Fixed(300 * time.Millisecond)})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)

	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.16.0/20")})
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	if st := op.Proto().GetStatus(); st != computepb.Operation_PENDING {
		t.Errorf("new operation status %v, want PENDING", st)
	}
	if _, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r1"}); apiErr(t, err).Code != 404 {
		t.Errorf("route visible before its operation is DONE")
	}
	if n := len(s.EffectiveRoutes()); n != 0 {
		t.Errorf("%d effective routes before DONE", n)
	}
	// The /wait endpoint blocks until DONE.
	ops, err := compute.NewGlobalOperationsRESTClient(ctx, clientOpts(ts)...)
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	start := time.Now()
	done, err := ops.Wait(ctx, &computepb.WaitGlobalOperationRequest{Project: proj, Operation: op.Name()})
	if err != nil {
		t.Fatalf("operations wait: %v", err)
	}
	if done.GetStatus() != computepb.Operation_DONE || time.Since(start) > 2*time.Second {
		t.Errorf("wait returned %v after %v", done.GetStatus(), time.Since(start))
	}
	if done.GetTargetLink() != "https://www.googleapis.com/compute/v1/projects/proj-a/global/routes/r1" || done.GetOperationType() != "insert" {
		t.Errorf("operation targetLink %q type %q", done.GetTargetLink(), done.GetOperationType())
	}
	if err := op.Wait(ctx); err != nil || !op.Done() {
		t.Fatalf("op.Wait: %v done=%v", err, op.Done())
	}
	if n := len(s.EffectiveRoutes()); n != 1 {
		t.Errorf("%d effective routes after DONE, want 1", n)
	}
}

// GCE's ROUTES quota counts every route of the project, whatever its
// network, and an insert beyond it fails on its operation.
func TestRouteQuotaIsPerProjectAndFailsOnOperation(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	s.SetQuota(proj, "", 1)
	c := routesClient(t, ts)
	ctx := ctxT(t)
	r0 := testRoute("r0", "10.19.16.0/20")
	r1 := testRoute("r1", "10.0.0.0/16")
	r1.Network = proto.String("vpc-b")
	r1.NextHopInstance, r1.NextHopIp = nil, proto.String("10.19.16.2")
	for i, r := range []*computepb.Route{r0, r1} {
		op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: r})
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		err = op.Wait(ctx)
		if i == 0 {
			if err != nil {
				t.Fatalf("insert within quota: %v", err)
			}
			continue
		}
		if ge := apiErr(t, err); ge.Code != http.StatusForbidden {
			t.Errorf("quota error code %d, want 403", ge.Code)
		}
		pb := op.Proto()
		item := pb.GetError().GetErrors()[0]
		q := item.GetErrorDetails()[0].GetQuotaInfo()
		if item.GetCode() != "QUOTA_EXCEEDED" || item.GetMessage() != "Quota 'ROUTES' exceeded.  Limit: 1.0 globally." ||
			pb.GetHttpErrorMessage() != "FORBIDDEN" || q.GetMetricName() != "compute.googleapis.com/routes" || q.GetLimit() != 1 {
			t.Errorf("operation error %v, http %d %q", pb.GetError(), pb.GetHttpErrorStatusCode(), pb.GetHttpErrorMessage())
		}
	}
	if names := routeNames(s.Routes(proj)); names != "r0" {
		t.Errorf("routes = %q, want only r0", names)
	}
}

func routeNames(rs []*computepb.Route) string {
	var names []string
	for _, r := range rs {
		names = append(names, r.GetName())
	}
	return strings.Join(names, ",")
}

// seedRoutes stores n routes named prefix-NNNNN directly, as if inserted.
func seedRoutes(s *Server, prefix string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(proj)
	for i := range n {
		r, _ := canonicalRoute(proj, testRoute(fmt.Sprintf("%s-%05d", prefix, i), fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)))
		r.Id = proto.Uint64(s.newIDLocked())
		r.CreationTimestamp = proto.String(rfc3339(time.Now()))
		p.routes[r.GetName()] = &routeEntry{pb: r, live: true, programmed: time.Now()}
		p.sorted = nil
	}
}

func TestRouteListPagesAndFilters(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of simulated time: full tier only (make test)")
	}
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	// 1,200 routes through the real client's inserts, some of them not ours.
	for i := range 1200 {
		prefix := "vpclink"
		if i%6 == 0 {
			prefix = "other"
		}
		op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute(fmt.Sprintf("%s-%04d", prefix, i), "10.19.16.0/20")})
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		if !op.Done() {
			t.Fatalf("insert %d: operation not DONE with zero latency", i)
		}
	}
	cases := []struct {
		filter   string
		pageSize uint32
		want     int
		calls    int64
	}{
		{`name eq "vpclink-.*"`, 0, 1000, 2},
		{`name eq vpclink-.*`, 300, 1000, 4},
		{`(name eq "other-.*")`, 0, 200, 1},
		{`name = "vpclink-0007"`, 0, 1, 1},
		{`name != "vpclink-0007"`, 0, 1199, 3},
		{`(name eq "vpclink-00.*") AND (destRange = "10.19.16.0/20")`, 0, 83, 1},
		{``, 0, 1200, 3},
	}
	for _, tc := range cases {
		s.ResetRequestCounts()
		req := &computepb.ListRoutesRequest{Project: proj, Filter: proto.String(tc.filter)}
		if tc.pageSize > 0 {
			req.MaxResults = proto.Uint32(tc.pageSize)
		}
		it := c.List(ctx, req)
		n := 0
		prev := ""
		for {
			r, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				t.Fatalf("filter %q: %v", tc.filter, err)
			}
			if r.GetName() <= prev {
				t.Fatalf("filter %q: %q after %q: not sorted or repeated", tc.filter, r.GetName(), prev)
			}
			prev = r.GetName()
			n++
		}
		if n != tc.want {
			t.Errorf("filter %q: %d routes, want %d", tc.filter, n, tc.want)
		}
		if got := s.RequestCounts()["routes.list"]; got != tc.calls {
			t.Errorf("filter %q page size %d: %d list calls, want %d", tc.filter, tc.pageSize, got, tc.calls)
		}
	}
	_, err := c.List(ctx, &computepb.ListRoutesRequest{Project: proj, Filter: proto.String(`(name eq "a") OR (name eq "b")`)}).Next()
	if ge := apiErr(t, err); ge.Code != 400 {
		t.Errorf("unsupported filter: code %d, want 400", ge.Code)
	}
}

func TestRetriedInsertWithRequestIDIsDeduplicated(t *testing.T) {
	s, ts := newFake(t, Options{OpLatency: Fixed(100 * time.Millisecond)})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	req := &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.16.0/20"),
		RequestId: proto.String("6f1c0c3e-8d0a-4f43-9d55-0c1a0e7f3b21")}
	first, err := c.Insert(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Insert(ctx, req)
	if err != nil {
		t.Fatalf("retry with the same requestId: %v, want the first operation", err)
	}
	if again.Name() != first.Name() {
		t.Errorf("retry got operation %s, want %s", again.Name(), first.Name())
	}
	req.RequestId = proto.String("0d9e7c4a-1b2f-4e3d-8c5a-6f7e8d9c0b1a")
	if _, err := c.Insert(ctx, req); apiErr(t, err).Code != http.StatusConflict {
		t.Errorf("new requestId for an existing name: %v, want 409", err)
	}
}
