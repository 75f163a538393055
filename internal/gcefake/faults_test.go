package gcefake

import (
	"context"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

func TestFaultsCodesAndReasons(t *testing.T) {
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
