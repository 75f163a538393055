package gcefake

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// call sends a control API request and returns the status and body.
func call(t *testing.T, ts *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestControlAPI(t *testing.T) {
	s, ts := newFake(t, Options{})
	const vm = "/_fake/instances/proj-a/us-central1-a/fwd-1"
	steps := []struct {
		method, path, body string
		code               int
		contains           string
	}{
		{"POST", "/_fake/instances", `{"project":"proj-a","zone":"us-central1-a","name":"fwd-1","nics":[{"network":"vpc-a","subnet":"10.0.1.0/24"}]}`, 200, `"ip":"10.0.1.2"`},
		{"POST", "/_fake/instances", `{"project":"proj-a","zone":"us-central1-a","name":"fwd-1","nics":[{"network":"vpc-a","subnet":"10.0.1.0/24"}]}`, 400, "already exists"},
		{"POST", "/_fake/instances", `{"bogus":1}`, 400, "unknown field"},
		{"GET", vm, "", 200, `"status":"RUNNING"`},
		{"POST", vm + "/attributes", `{"key":"vpclink-config","value":"routes: []"}`, 200, "{}"},
		{"POST", vm + "/panic", "", 200, "{}"},
		{"GET", "/_fake/instances", "", 200, `"panicked":true`},
		{"POST", vm + "/status", `{"status":"STOPPING"}`, 200, "{}"},
		{"POST", vm + "/status", `{"status":"SLEEPY"}`, 400, "unknown status"},
		{"POST", "/_fake/instances/proj-a/us-central1-a/nope/panic", "", 404, "not found"},
		{"POST", "/_fake/groups", `{"project":"proj-a","name":"fwd","zone":"us-central1-b","targetSize":2,"nics":[{"network":"vpc-a","subnet":"10.0.2.0/24"}]}`, 200, "{}"},
		{"POST", "/_fake/templates", `{"project":"proj-a","name":"fwd-v2","metadata":{"k":"v"}}`, 200, "{}"},
		{"POST", "/_fake/groups/proj-a/us-central1-b/fwd/template", `{"template":"fwd-v2"}`, 200, "{}"},
		{"POST", "/_fake/groups/proj-a/us-central1-b/fwd/update-policy", `{"type":"SOMETIMES"}`, 400, "updatePolicy.type"},
		{"POST", "/_fake/groups/proj-a/us-central1-b/nope/template", `{"template":"fwd-v2"}`, 404, "not found"},
		{"POST", "/_fake/networks", `{"project":"proj-a","network":"vpc-c","subnets":["10.50.0.0/24"]}`, 200, "{}"},
		{"POST", "/_fake/faults", `{"method":"routes.list","rate":1,"codes":[429]}`, 200, "{}"},
		{"POST", "/_fake/faults", `{"method":"routes.list","rate":1,"codes":[418]}`, 400, "fault code 418"},
		{"GET", "/compute/v1/projects/proj-a/global/routes", "", 429, "rateLimitExceeded"},
		{"POST", "/_fake/faults", `{"method":"routes.list","rate":0}`, 200, "{}"},
		{"POST", "/_fake/latency", `{"method":"routes.get","latency":"10ms"}`, 200, "{}"},
		{"POST", "/_fake/op-latency", `{"latency":0.05}`, 200, "{}"},
		{"POST", "/_fake/op-latency", `{"method":"routes.delete","latency":"1s..3s"}`, 200, "{}"},
		{"POST", "/_fake/op-latency", `{"latency":"3s..1s"}`, 400, "want 0"},
		{"POST", "/_fake/propagation", `{"latency":"1s..3s"}`, 200, "{}"},
		{"GET", "/_fake/operations-log", "", 200, `[]`},
		{"GET", "/_fake/effective-log", "", 200, `[]`},
		{"POST", "/_fake/quota", `{"project":"proj-a","network":"vpc-a","limit":5}`, 200, "{}"},
		{"POST", "/_fake/rate-limit", `{"project":"proj-b","readsPerMinute":100,"writesPerMinute":10}`, 200, "{}"},
		{"POST", "/_fake/rate-limit/spend-writes", `{"project":"proj-b"}`, 200, "{}"},
		{"POST", "/_fake/concurrent-operations", `{"project":"proj-b","limit":3}`, 200, "{}"},
		{"DELETE", "/compute/v1/projects/proj-b/global/routes/r1", "", 403, "usageLimits"},
		{"GET", "/_fake/requests", "", 200, `"routes.list":1`},
		{"DELETE", "/_fake/requests", "", 200, "{}"},
		{"GET", "/_fake/requests", "", 200, `{}`},
		{"GET", "/_fake/effective-routes", "", 200, `[]`},
		{"GET", "/_fake/routes/proj-a", "", 200, `{}`},
		{"DELETE", vm, "", 200, "{}"},
		{"GET", vm, "", 404, "not found"},
	}
	for _, st := range steps {
		code, body := call(t, ts, st.method, st.path, st.body)
		if code != st.code || !strings.Contains(body, st.contains) {
			t.Errorf("%s %s %s: %d %s, want %d containing %q", st.method, st.path, st.body, code, strings.TrimSpace(body), st.code, st.contains)
		}
	}
	if n := len(s.Instances()); n != 2 {
		t.Errorf("%d instances after the script, want the group's 2", n)
	}
	s.mu.Lock()
	q, lat, del, prop := s.quota[proj], s.opLatency[AllMethods], s.opLatency["routes.delete"], s.propagate
	s.mu.Unlock()
	if q != 5 || lat != Fixed(50*time.Millisecond) || del.String() != "1s..3s" || prop.String() != "1s..3s" {
		t.Errorf("quota %d op latency %v, routes.delete %v, propagation %v; want 5, 50ms, 1s..3s, 1s..3s", q, lat, del, prop)
	}
}

func TestWatchStreamsChanges(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1")
	resp, err := ts.Client().Get(ts.URL + "/_fake/watch")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	next := func() watchEvent {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch stream ended: %v", lines.Err())
		}
		var ev watchEvent
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("watch line %q: %v", lines.Text(), err)
		}
		return ev
	}
	if ev := next(); len(ev.Instances) != 1 || len(ev.EffectiveRoutes) != 0 {
		t.Fatalf("first event: %+v", ev)
	}
	_ = s.SetStatus(proj, zoneA, "fwd-1", StatusTerminated)
	for {
		ev := next()
		if len(ev.Instances) == 1 && ev.Instances[0].Status == StatusTerminated {
			break
		}
	}
}
