package gce_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

const (
	project = "proj-a"
	zone    = "us-central1-a"
)

// env is one fake GCE behind an optional fault injector, and the real
// Compute clients pointed at it.
type env struct {
	fake    *gcefake.Server
	inject  *injector
	clients *gce.Clients
	reg     *prometheus.Registry
}

func newEnv(t testing.TB, opts gcefake.Options) *env {
	t.Helper()
	return newEnvWith(t, opts, gce.ClientOptions{})
}

// newEnvWith is newEnv with client options; zero fields get fast test
// defaults (short retry waits and operation polls).
func newEnvWith(t testing.TB, opts gcefake.Options, co gce.ClientOptions) *env {
	t.Helper()
	fake := gcefake.New(opts)
	t.Cleanup(fake.Close)
	inj := &injector{next: fake}
	srv := httptest.NewServer(inj)
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	co.Endpoint = srv.URL + "/"
	co.Registerer = reg
	if co.CallTimeout == 0 {
		co.CallTimeout = 20 * time.Second
	}
	if co.OpPoll == 0 {
		co.OpPoll = 10 * time.Millisecond
	}
	if co.RetryWaitMin == 0 {
		co.RetryWaitMin = 5 * time.Millisecond
		co.RetryWaitMax = 20 * time.Millisecond
	}
	clients, err := gce.NewClients(context.Background(), co)
	if err != nil {
		t.Fatalf("NewClients: %v", err)
	}
	t.Cleanup(func() { _ = clients.Close() })
	return &env{fake: fake, inject: inj, clients: clients, reg: reg}
}

// forwarder creates a RUNNING instance with two NICs that routes can point at.
func (e *env) forwarder(t testing.TB, name string) gcefake.Instance {
	t.Helper()
	in, err := e.fake.CreateInstance(gcefake.InstanceSpec{
		Project: project, Zone: zone, Name: name,
		NICs: []gcefake.NICSpec{
			{Network: "vpc-a", Subnet: "10.0.0.0/24"},
			{Network: "vpc-b", Subnet: "10.19.16.0/20"},
		},
		Metadata: map[string]string{"vpclink-config": "routePrefix: vpclink\n"},
	})
	if err != nil {
		t.Fatalf("CreateInstance %s: %v", name, err)
	}
	return in
}

// counter returns vpclink_gce_requests_total{method,code}.
func (e *env) counter(t testing.TB, method, code string) float64 {
	t.Helper()
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "vpclink_gce_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// injector answers the next requests matching a rule with canned GCE
// errors before the fake sees them: the fake's own faults are random, and
// the retry tests need "exactly two 503s, then success".
type injector struct {
	next http.Handler

	mu    sync.Mutex
	rules []*rule
}

type rule struct {
	method, pathSuffix string
	replies            []reply // consumed in order
	seen               int     // matching requests answered by this rule
}

type reply struct {
	code   int
	reason string
	body   string // raw body; built from code and reason when empty
}

// failNext makes the next len(replies) requests with this HTTP method whose
// path ends in pathSuffix get replies; later ones reach the fake.
func (i *injector) failNext(method, pathSuffix string, replies ...reply) *rule {
	i.mu.Lock()
	defer i.mu.Unlock()
	r := &rule{method: method, pathSuffix: pathSuffix, replies: replies}
	i.rules = append(i.rules, r)
	return r
}

func (i *injector) answered(r *rule) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return r.seen
}

func (i *injector) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	i.mu.Lock()
	var rep *reply
	for _, r := range i.rules {
		if len(r.replies) > 0 && req.Method == r.method && strings.HasSuffix(req.URL.Path, r.pathSuffix) {
			rep = &r.replies[0]
			r.replies = r.replies[1:]
			r.seen++
			break
		}
	}
	i.mu.Unlock()
	if rep == nil {
		i.next.ServeHTTP(w, req)
		return
	}
	body := rep.body
	if body == "" {
		var doc struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Errors  []struct {
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"errors"`
			} `json:"error"`
		}
		doc.Error.Code = rep.code
		doc.Error.Message = "injected " + rep.reason
		doc.Error.Errors = append(doc.Error.Errors, struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		}{rep.reason, "injected"})
		b, _ := json.Marshal(doc)
		body = string(b)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(rep.code)
	_, _ = w.Write([]byte(body))
}
