package reconciler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gcefake"
)

// A forwarder's /status cannot send the reconciler elsewhere.
func TestStatusReadFollowsNoRedirect(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"instance":{"name":"a","id":"1"},"ready":true}`))
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/status", http.StatusFound))
	defer redirector.Close()
	h := newHarness(t, 1)
	r, err := New(Options{Config: h.cfg, API: h.api})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.fetchStatus(context.Background(), redirector.URL+"/status"); err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("status read through a redirect: err %v, want a refused redirect", err)
	}
}

// /healthz fails once no pass has read every group for healthz.failAfter,
// and the last-success gauge says when one last did.
func TestHealthzFailsWhenPassesFail(t *testing.T) {
	h, _ := setup(t)
	h.cfg.Healthz = config.Healthz{FailAfter: config.Duration{Duration: 500 * time.Millisecond}}
	r, reg := h.start("r1")
	waitHealthy(h, r, 3)
	srv := httptest.NewServer(r.Handler(reg))
	defer srv.Close()
	code := func() int {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := code(); c != http.StatusOK {
		t.Fatalf("/healthz %d while passes succeed", c)
	}
	if g := gauge(t, reg, "vpclink_reconciler_last_success_timestamp_seconds"); g < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("last success gauge %v, want recent", g)
	}
	h.fake.SetFault("routes.list", gcefake.Fault{Rate: 1, Codes: []int{403}})
	h.waitFor("/healthz failing", 10*time.Second, func() bool { return code() == http.StatusServiceUnavailable })
	if n := gauge(t, reg, "vpclink_reconcile_errors_total"); n < 1 {
		t.Errorf("vpclink_reconcile_errors_total %v, want counted", n)
	}
}

// A group that cannot be read stops its own pass, not the others': API
// evidence in a readable group still prunes.
func TestBrokenGroupDoesNotStopOthers(t *testing.T) {
	h, _ := setup(t)
	h.cfg.Groups = append(h.cfg.Groups, config.Group{Name: "deleted-mig", Zone: testZone})
	r, _ := h.start("r1")
	waitHealthy(h, r, 3)
	victim := h.instances()[0]
	if err := h.fake.SetStatus(testProject, testZone, victim.Name, gcefake.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the terminated forwarder's routes pruned", 5*time.Second, func() bool { return len(h.routesOf(victim.ID)) == 0 })
	if err := r.LastReport().Err; err == nil || !strings.Contains(err.Error(), "deleted-mig") {
		t.Errorf("last report error %v, want the broken group named", err)
	}
}
