package gcefake

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

func TestFaultsCodesAndReasons(t *testing.T) {
	t.Parallel()
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	seedRoutes(s, "vpclink", 1)
	c := routesClient(t, ts)
	ctx := ctxT(t)
	cases := []struct {
		code   int
		reason string
	}{
		{http.StatusForbidden, "rateLimitExceeded"},
		{http.StatusTooManyRequests, "rateLimitExceeded"},
		{http.StatusInternalServerError, "backendError"},
	}
	for _, tc := range cases {
		s.SetFault("routes.get", Fault{Rate: 1, Codes: []int{tc.code}})
		_, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "vpclink-00000"})
		if ge := apiErr(t, err); ge.Code != tc.code || reasonOf(ge) != tc.reason {
			t.Errorf("fault %d: got %d %q, want %d %q", tc.code, ge.Code, reasonOf(ge), tc.code, tc.reason)
		}
	}
	// Other methods are untouched; "*" covers them; removing restores.
	if _, err := c.List(ctx, &computepb.ListRoutesRequest{Project: proj}).Next(); err != nil {
		t.Errorf("routes.list with a routes.get fault: %v", err)
	}
	s.SetFault("routes.get", Fault{})
	s.SetFault(AllMethods, Fault{Rate: 1, Codes: []int{500}})
	if _, err := c.List(ctx, &computepb.ListRoutesRequest{Project: proj}).Next(); apiErr(t, err).Code != 500 {
		t.Errorf("routes.list under a * fault: %v", err)
	}
	s.SetFault(AllMethods, Fault{})
	if _, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "vpclink-00000"}); err != nil {
		t.Errorf("get after faults removed: %v", err)
	}

	// The client retries 503 on Get by itself: the fake counts every try.
	s.SetFault("routes.get", Fault{Rate: 1, Codes: []int{503}})
	s.ResetRequestCounts()
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if _, err := c.Get(short, &computepb.GetRouteRequest{Project: proj, Route: "vpclink-00000"}); err == nil {
		t.Error("get succeeded under a 100% 503 fault")
	}
	if n := s.RequestCounts()["routes.get"]; n < 2 {
		t.Errorf("routes.get calls under 503 = %d, want the client's retries counted (>= 2)", n)
	}
}

func TestFaultRateIsAShare(t *testing.T) {
	s, ts := newFake(t, Options{})
	s.SetFault("routes.list", Fault{Rate: 0.5, Codes: []int{429}})
	c := routesClient(t, ts)
	ctx := ctxT(t)
	failed := 0
	for range 200 {
		_, err := c.List(ctx, &computepb.ListRoutesRequest{Project: proj}).Next()
		if err != nil && err != iterator.Done && apiErr(t, err).Code == 429 {
			failed++
		}
	}
	if failed < 60 || failed > 140 {
		t.Errorf("%d of 200 calls failed at rate 0.5", failed)
	}
}

func TestLatencyDelaysMethod(t *testing.T) {
	s, ts := newFake(t, Options{})
	s.SetLatency("routes.list", 150*time.Millisecond)
	c := routesClient(t, ts)
	ctx := ctxT(t)
	start := time.Now()
	_, _ = c.List(ctx, &computepb.ListRoutesRequest{Project: proj, MaxResults: proto.Uint32(1)}).Next()
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("list took %v with 150ms latency", d)
	}
	start = time.Now()
	_, _ = c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "x"})
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("get took %v: latency leaked to another method", d)
	}
}

// An applied fault carries the call out and loses its response: a retry
// with the same requestId gets the first call's operation, one without
// finds the route already there.
func TestAppliedFaultAndRequestIDRetry(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	s.SetFault("routes.insert", Fault{Rate: 1, Codes: []int{503}, Applied: true})
	req := &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r0", "10.19.16.0/20"), RequestId: proto.String("5a1b2c3d-0000-4000-8000-000000000001")}
	if _, err := c.Insert(ctx, req); apiErr(t, err).Code != http.StatusServiceUnavailable {
		t.Fatalf("insert under an applied 503: %v, want 503", err)
	}
	if names := routeNames(s.Routes(proj)); names != "r0" {
		t.Fatalf("routes after a lost response: %q, want r0 (the insert happened)", names)
	}
	s.SetFault("routes.insert", Fault{})
	op, err := c.Insert(ctx, req)
	if err != nil || op.Proto().GetTargetLink() == "" || s.OperationLog()[0].Name != op.Name() {
		t.Errorf("retry with the same requestId: %v, %v; want the first call's operation", op, err)
	}
	req.RequestId = nil
	if _, err := c.Insert(ctx, req); apiErr(t, err).Code != http.StatusConflict {
		t.Errorf("retry without requestId: %v, want 409 alreadyExists", err)
	}

	// A reset loses the response without any HTTP answer.
	s.SetFault("routes.delete", Fault{Rate: 1, Applied: true, Reset: true})
	_, err = c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r0"})
	if err == nil {
		t.Fatal("delete under a reset fault succeeded")
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		t.Errorf("delete under a reset: %v, want a transport error, not an HTTP answer", err)
	}
	if n := len(s.Routes(proj)); n != 0 {
		t.Errorf("%d routes after an applied delete, want 0", n)
	}
}

// An operation fault lets the call succeed and ends its operation DONE with
// an error but no httpErrorStatusCode: the client's op.Wait says nil.
func TestOperationFaultDoneWithErrorWithoutStatus(t *testing.T) {
	t.Parallel()
	s, ts := newFake(t, Options{OpLatency: Fixed(50 * time.Millisecond)})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	s.SetFault("routes.insert", Fault{Rate: 1, Codes: []int{500}, Operation: true})
	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r0", "10.19.16.0/20")})
	if err != nil {
		t.Fatalf("insert call under an operation fault: %v, want accepted", err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Errorf("op.Wait: %v; the client library reports nil without httpErrorStatusCode", err)
	}
	pb := op.Proto()
	if pb.GetStatus() != computepb.Operation_DONE || pb.HttpErrorStatusCode != nil || pb.GetError().GetErrors()[0].GetCode() != "BACKEND_ERROR" {
		t.Errorf("operation %v error %v status code %v", pb.GetStatus(), pb.GetError(), pb.HttpErrorStatusCode)
	}
	if n := len(s.Routes(proj)); n != 0 {
		t.Errorf("%d routes after a failed operation, want 0", n)
	}
	if rec := s.OperationLog()[0]; !strings.HasPrefix(rec.Error, "BACKEND_ERROR: ") {
		t.Errorf("operation log error %q", rec.Error)
	}
	s.SetFault("routes.insert", Fault{})
	op, err = c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r0", "10.19.16.0/20")})
	if err != nil || op.Wait(ctx) != nil || len(s.Routes(proj)) != 1 {
		t.Errorf("insert again after the failed operation: %v", err)
	}
}

// A route that an operation is still inserting or deleting is not ready.
func TestRouteNotReadyWhileItsOperationRuns(t *testing.T) {
	t.Parallel()
	s, ts := newFake(t, Options{OpLatency: Fixed(200 * time.Millisecond)})
	mustInstance(t, s, "fwd-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	notReady := func(what string, err error) {
		t.Helper()
		ge := apiErr(t, err)
		if ge.Code != http.StatusBadRequest || reasonOf(ge) != "resourceNotReady" ||
			ge.Message != "The resource 'projects/proj-a/global/routes/r0' is not ready" {
			t.Errorf("%s: %d %q %q, want 400 resourceNotReady", what, ge.Code, reasonOf(ge), ge.Message)
		}
	}
	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r0", "10.19.16.0/20")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r0"})
	notReady("delete while inserting", err)
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	del, err := c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r0"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Delete(ctx, &computepb.DeleteRouteRequest{Project: proj, Route: "r0"})
	notReady("second delete", err)
	if err := del.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// An injected 400 names the call's resource too.
	s.SetFault("routes.get", Fault{Rate: 1, Codes: []int{400}})
	_, err = c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r0"})
	notReady("injected 400", err)
}
