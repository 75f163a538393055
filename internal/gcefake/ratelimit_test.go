package gcefake

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// setClock makes the fake's rate-window clock return at.
func setClock(s *Server, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = func() time.Time { return at }
}

// rateLimited reports whether err is GCE's rate-quota error: 403,
// rateLimitExceeded, domain usageLimits.
func rateLimited(t *testing.T, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	ge := apiErr(t, err)
	return ge.Code == http.StatusForbidden && reasonOf(ge) == "rateLimitExceeded" && strings.Contains(ge.Body, `"domain":"usageLimits"`)
}

func TestRateLimitWindowsCountReadsAndWritesApart(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	minute := time.Date(2026, 1, 1, 10, 0, 15, 0, time.UTC)
	setClock(s, minute)
	s.SetRateLimit(proj, 2, 1)
	c := routesClient(t, ts)
	ctx := ctxT(t)
	get := func() error {
		_, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r0"})
		return err
	}
	insert := func(name, dest string) error {
		_, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute(name, dest)})
		return err
	}
	if err := insert("r0", "10.19.16.0/20"); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := insert("r1", "10.19.32.0/20"); !rateLimited(t, err) {
		t.Errorf("second write in a 1/min window: %v, want 403 rateLimitExceeded/usageLimits", err)
	}
	for i := range 2 {
		if err := get(); err != nil {
			t.Errorf("read %d within budget: %v", i, err)
		}
	}
	if err := get(); !rateLimited(t, err) {
		t.Errorf("third read in a 2/min window: %v, want 403 rateLimitExceeded", err)
	}
	// Still the same minute at :59; the next one refills both budgets.
	setClock(s, minute.Add(44*time.Second))
	if err := insert("r1", "10.19.32.0/20"); !rateLimited(t, err) {
		t.Errorf("write at 10:00:59: %v, want still rate limited", err)
	}
	setClock(s, minute.Add(45*time.Second))
	if err := insert("r1", "10.19.32.0/20"); err != nil {
		t.Errorf("write at 10:01:00: %v", err)
	}
	if err := get(); err != nil {
		t.Errorf("read at 10:01:00: %v", err)
	}
	// Other projects have their own budgets; removing the limit ends it.
	if _, err := c.Get(ctx, &computepb.GetRouteRequest{Project: "proj-b", Route: "x"}); apiErr(t, err).Code != http.StatusNotFound {
		t.Errorf("read in another project: %v, want 404", err)
	}
	s.SetRateLimit(proj, 0, 0)
	for range 3 {
		if err := get(); err != nil {
			t.Errorf("read without a limit: %v", err)
		}
	}
}

func TestSpendWriteBudgetBlocksWritesUntilTheNextMinute(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	minute := time.Date(2026, 1, 1, 10, 0, 50, 0, time.UTC)
	setClock(s, minute)
	s.SpendWriteBudget(proj)
	c := routesClient(t, ts)
	ctx := ctxT(t)
	_, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r0", "10.19.16.0/20")})
	if !rateLimited(t, err) {
		t.Errorf("write after SpendWriteBudget: %v, want 403 rateLimitExceeded", err)
	}
	if _, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r0"}); apiErr(t, err).Code != http.StatusNotFound {
		t.Errorf("read after SpendWriteBudget: %v, want it served (404)", err)
	}
	setClock(s, minute.Add(10*time.Second))
	if _, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r0", "10.19.16.0/20")}); err != nil {
		t.Errorf("write in the next minute: %v", err)
	}
}

func TestConcurrentOperationsQuota(t *testing.T) {
	t.Parallel()
	s, ts := newFake(t, Options{OpLatency: Fixed(300 * time.Millisecond)})
	mustInstance(t, s, "fwd-1")
	s.SetConcurrentOperationsLimit(proj, 1)
	c := routesClient(t, ts)
	ctx := ctxT(t)
	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r0", "10.19.16.0/20")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.32.0/20")})
	if !rateLimited(t, err) {
		t.Fatalf("second insert while one is pending: %v, want 403 rateLimitExceeded", err)
	}
	ge := apiErr(t, err)
	if len(ge.Details) != 1 || !strings.Contains(mustJSON(ge.Details[0]), `"reason":"CONCURRENT_OPERATIONS_QUOTA_EXCEEDED"`) {
		t.Errorf("details %v, want an ErrorInfo with reason CONCURRENT_OPERATIONS_QUOTA_EXCEEDED", ge.Details)
	}
	// Reads are not operations.
	if _, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r0"}); apiErr(t, err).Code != http.StatusNotFound {
		t.Errorf("read while at the cap: %v, want it served (404)", err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r1", "10.19.32.0/20")}); err != nil {
		t.Errorf("insert once the first is DONE: %v", err)
	}
}
