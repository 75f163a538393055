package gce_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

const networkA = "https://www.googleapis.com/compute/v1/projects/" + project + "/global/networks/vpc-a"

func testRoute(name, hop string) gce.Route {
	return gce.Route{
		Name:            name,
		Project:         project,
		Network:         "vpc-a", // bare name: Insert expands it
		DestRange:       "10.19.16.0/20",
		Priority:        900,
		Description:     "vpclink:v1 instance=fwd-1 zone=" + zone,
		NextHopInstance: hop,
	}
}

func hopURL(name string) string {
	return "https://www.googleapis.com/compute/v1/projects/" + project + "/zones/" + zone + "/instances/" + name
}

func TestRouteInsertWaitsForOperationThenGet(t *testing.T) {
	e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(300 * time.Millisecond)})
	e.forwarder(t, "fwd-1")
	ctx := context.Background()

	want := testRoute("vpclink-1-aaaaaaaa", hopURL("fwd-1"))
	if err := e.clients.Routes.Insert(ctx, want); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	// The fake shows a route only once its insert operation is DONE, so a
	// successful Get right after Insert proves Insert waited.
	got, err := e.clients.Routes.Get(ctx, project, want.Name)
	if err != nil {
		t.Fatalf("Get after Insert: %v", err)
	}
	if got.Network != networkA || got.DestRange != want.DestRange || got.Priority != 900 ||
		got.NextHopInstance != want.NextHopInstance || got.Description != want.Description || got.Project != project {
		t.Errorf("Get = %+v, want the inserted route with network %s", got, networkA)
	}
	if got.CreationTimestamp.IsZero() || time.Since(got.CreationTimestamp) > time.Minute {
		t.Errorf("CreationTimestamp = %v, want about now", got.CreationTimestamp)
	}
	if len(got.Warnings) != 0 {
		t.Errorf("Warnings = %v, want none for a RUNNING next hop", got.Warnings)
	}
	if e.counter(t, "operations.get", "200") == 0 {
		t.Error("no operations.get call counted: the operation was not polled")
	}
}

func TestRouteInsertExistingAndDeleteMissingAreSuccess(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	e.forwarder(t, "fwd-1")
	ctx := context.Background()
	r := testRoute("vpclink-1-bbbbbbbb", hopURL("fwd-1"))

	for i := range 2 {
		if err := e.clients.Routes.Insert(ctx, r); err != nil {
			t.Fatalf("Insert #%d: %v", i+1, err)
		}
	}
	if n := e.counter(t, "routes.insert", "409"); n != 1 {
		t.Errorf("routes.insert 409 count = %v, want 1 (second insert met alreadyExists)", n)
	}
	for i := range 2 {
		if err := e.clients.Routes.Delete(ctx, project, r.Name); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if n := e.counter(t, "routes.delete", "404"); n != 1 {
		t.Errorf("routes.delete 404 count = %v, want 1 (second delete met notFound)", n)
	}
	_, err := e.clients.Routes.Get(ctx, project, r.Name)
	if !gce.IsNotFound(err) {
		t.Fatalf("Get after Delete: err = %v, want not found", err)
	}
	if want := "route " + r.Name + ": get: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the route as %q", err, want)
	}
	if k := gce.Classify(err); k.String() != "not_found" {
		t.Errorf("Classify = %s, want not_found", k)
	}
}

func TestConflictFromTheLibraryIsClassified(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	e.inject.failNext(http.MethodGet, "/global/routes/x", reply{code: 409, reason: "alreadyExists"})
	_, err := e.clients.Routes.Get(context.Background(), project, "x")
	if !gce.IsAlreadyExists(err) || gce.Classify(err).String() != "already_exists" {
		t.Fatalf("err = %v (kind %s), want already_exists", err, gce.Classify(err))
	}
}

func TestRouteListFollowsPagesWithNameFilter(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of simulated time: full tier only (make test)")
	}
	e := newEnv(t, gcefake.Options{})
	e.forwarder(t, "fwd-1")
	ctx := context.Background()
	const owned = 1200
	for i := range owned {
		r := testRoute(fmt.Sprintf("vpclink-1-%08x", i), hopURL("fwd-1"))
		r.DestRange = fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256)
		if err := e.clients.Routes.Insert(ctx, r); err != nil {
			t.Fatalf("Insert %s: %v", r.Name, err)
		}
	}
	// Routes that share a prefix-like name but are not ours: "vpclinkx-"
	// must not match prefix "vpclink-", nor "other-".
	for _, name := range []string{"vpclinkx-1", "other-1", "default-route-1"} {
		r := testRoute(name, hopURL("fwd-1"))
		r.DestRange = "10.200.0.0/24"
		if err := e.clients.Routes.Insert(ctx, r); err != nil {
			t.Fatalf("Insert %s: %v", name, err)
		}
	}

	e.fake.ResetRequestCounts()
	got, err := e.clients.Routes.List(ctx, project, "vpclink-")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != owned {
		t.Fatalf("List returned %d routes, want %d", len(got), owned)
	}
	seen := map[string]bool{}
	for _, r := range got {
		if !strings.HasPrefix(r.Name, "vpclink-") || seen[r.Name] {
			t.Fatalf("unexpected or duplicate route %q", r.Name)
		}
		seen[r.Name] = true
	}
	// 1,200 routes at 500 a page is three list calls, not one per route.
	if n := e.fake.RequestCounts()["routes.list"]; n != 3 {
		t.Errorf("routes.list calls = %d, want 3 pages", n)
	}

	all, err := e.clients.Routes.List(ctx, project, "")
	if err != nil {
		t.Fatalf("List all: %v", err)
	}
	if len(all) != owned+3 {
		t.Errorf("List with empty prefix returned %d routes, want %d", len(all), owned+3)
	}
}

func TestRouteInsertRetriesTwo503sThenSucceeds(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	e.forwarder(t, "fwd-1")
	rule := e.inject.failNext(http.MethodPost, "/global/routes",
		reply{code: 503, reason: "backendError"}, reply{code: 503, reason: "backendError"})
	r := testRoute("vpclink-1-cccccccc", hopURL("fwd-1"))

	if err := e.clients.Routes.Insert(context.Background(), r); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	if n := e.inject.answered(rule); n != 2 {
		t.Errorf("injected 503s answered = %d, want 2", n)
	}
	if n := e.fake.RequestCounts()["routes.insert"]; n != 1 {
		t.Errorf("fake saw %d inserts, want 1", n)
	}
	if n := e.counter(t, "routes.insert", "503"); n != 2 {
		t.Errorf("metric routes.insert 503 = %v, want 2", n)
	}
	if _, err := e.clients.Routes.Get(context.Background(), project, r.Name); err != nil {
		t.Errorf("Get after retried Insert: %v", err)
	}
}

func TestRouteListRetriesRateLimits(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	rule := e.inject.failNext(http.MethodGet, "/global/routes",
		reply{code: 403, reason: "rateLimitExceeded"},
		reply{code: 429, reason: "rateLimitExceeded"},
		reply{code: 403, reason: "userRateLimitExceeded"})
	if _, err := e.clients.Routes.List(context.Background(), project, "vpclink-"); err != nil {
		t.Fatalf("List: %v", err)
	}
	if n := e.inject.answered(rule); n != 3 {
		t.Errorf("rate-limit replies answered = %d, want 3", n)
	}
	if n := e.fake.RequestCounts()["routes.list"]; n != 1 {
		t.Errorf("fake saw %d lists, want 1", n)
	}
}

func TestRetriesGiveUpAfterRetryMax(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	var replies []reply
	for range 10 {
		replies = append(replies, reply{code: 503, reason: "backendError"})
	}
	rule := e.inject.failNext(http.MethodGet, "/global/routes", replies...)
	_, err := e.clients.Routes.List(context.Background(), project, "vpclink-")
	if !gce.IsTransient(err) {
		t.Fatalf("err = %v (kind %s), want transient", err, gce.Classify(err))
	}
	if n := e.inject.answered(rule); n != 6 {
		t.Errorf("attempts = %d, want 1 + RetryMax(5)", n)
	}
}

func TestQuotaExceededIsNotRetriedAndClassified(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	e.forwarder(t, "fwd-1")
	ctx := context.Background()

	t.Run("on the operation", func(t *testing.T) {
		e.fake.SetQuota(project, "vpc-a", 1)
		defer e.fake.SetQuota(project, "vpc-a", 0)
		first := testRoute("vpclink-1-dddddddd", hopURL("fwd-1"))
		if err := e.clients.Routes.Insert(ctx, first); err != nil {
			t.Fatalf("first Insert: %v", err)
		}
		e.fake.ResetRequestCounts()
		second := testRoute("vpclink-1-eeeeeeee", hopURL("fwd-1"))
		second.DestRange = "10.19.32.0/20"
		err := e.clients.Routes.Insert(ctx, second)
		if !gce.IsQuotaExceeded(err) || gce.Classify(err).String() != "quota" {
			t.Fatalf("Insert beyond quota: err = %v (kind %s), want quota", err, gce.Classify(err))
		}
		if want := "route " + second.Name + ": insert: "; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the route as %q", err, want)
		}
		if n := e.fake.RequestCounts()["routes.insert"]; n != 1 {
			t.Errorf("fake saw %d inserts, want 1 (quota is not retried)", n)
		}
	})

	t.Run("on the call", func(t *testing.T) {
		// One canned 403: a retry would reach the fake and succeed.
		rule := e.inject.failNext(http.MethodPost, "/global/routes", reply{code: 403, reason: "quotaExceeded"})
		err := e.clients.Routes.Insert(ctx, testRoute("vpclink-1-ffffffff", hopURL("fwd-1")))
		if !gce.IsQuotaExceeded(err) {
			t.Fatalf("err = %v (kind %s), want quota", err, gce.Classify(err))
		}
		if n := e.inject.answered(rule); n != 1 {
			t.Errorf("answered = %d, want 1", n)
		}
	})

	t.Run("DONE with error but no httpErrorStatusCode", func(t *testing.T) {
		// GCE can finish an operation with only error.errors set; the
		// library's Wait would return nil for it.
		op := `{"kind":"compute#operation","name":"operation-quota","status":"DONE","operationType":"insert",
			"error":{"errors":[{"code":"QUOTA_EXCEEDED","message":"Quota 'ROUTES' exceeded."}]}}`
		e.inject.failNext(http.MethodPost, "/global/routes", reply{code: 200, body: op})
		err := e.clients.Routes.Insert(ctx, testRoute("vpclink-1-99999999", hopURL("fwd-1")))
		if !gce.IsQuotaExceeded(err) || !strings.Contains(err.Error(), "QUOTA_EXCEEDED") {
			t.Fatalf("err = %v (kind %s), want quota naming QUOTA_EXCEEDED", err, gce.Classify(err))
		}
	})
}

func TestCallTimeoutBoundsACall(t *testing.T) {
	e := newEnvWith(t, gcefake.Options{}, gce.ClientOptions{CallTimeout: 200 * time.Millisecond})
	e.fake.SetLatency("routes.get", 5*time.Second)
	// Without the deadline the call would end after 5s with not_found.
	_, err := e.clients.Routes.Get(context.Background(), project, "slow")
	if !gce.IsTransient(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v (kind %s), want a transient deadline error", err, gce.Classify(err))
	}
}
