package health

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
)

// TestObserveEvidence states what an answer means, as the table of
// TestObserve does (failures=3, successes=2): S success, F no answer,
// U "not ready: announcing", D "not ready: draining", B "not ready:
// serving" (the data plane broke). Rendered "verdict f/s".
func TestObserveEvidence(t *testing.T) {
	results := map[rune]error{
		'S': nil,
		'F': fmt.Errorf("dial: %w", context.DeadlineExceeded),
		'U': &StatusError{Code: 503, Phase: "announcing"},
		'D': &StatusError{Code: 503, Phase: "draining"},
		'B': &StatusError{Code: 503, Phase: "serving"},
	}
	cases := []struct {
		name, results string
		want          []string
	}{
		// A forwarder announcing its routes answers 503 for as long as its
		// inserts take: never Unhealthy on that.
		{"announcing is starting, never unhealthy", "UUUUU", []string{"starting 0/0", "starting 0/0", "starting 0/0", "starting 0/0", "starting 0/0"}},
		// Unhealthy then announcing (a reboot): Starting at once, not an
		// Unhealthy with zero failures.
		{"unhealthy then announcing", "FFFU", []string{"starting 1/0", "starting 2/0", "unhealthy 3/0", "starting 0/0"}},
		{"healthy then announcing (agent restart)", "SSU", []string{"starting 0/1", "healthy 0/2", "starting 0/0"}},
		{"healthy then draining", "SSDD", []string{"starting 0/1", "healthy 0/2", "draining 0/0", "draining 0/0"}},
		{"draining, then the VM stops answering", "DFFF", []string{"draining 0/0", "draining 1/0", "draining 2/0", "unhealthy 3/0"}},
		// A 503 while serving is "I cannot forward": a failure.
		{"serving but broken is a failure", "SSBBB", []string{"starting 0/1", "healthy 0/2", "healthy 1/0", "healthy 2/0", "unhealthy 3/0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s State
			var got []string
			for _, r := range c.results {
				s, _ = s.observe(results[r], time.Unix(0, 0), 3, 2)
				got = append(got, fmt.Sprintf("%s %d/%d", s.Verdict, s.ConsecutiveFailures, s.ConsecutiveSuccesses))
			}
			if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
				t.Fatalf("got  %s\nwant %s", strings.Join(got, ", "), strings.Join(c.want, ", "))
			}
		})
	}
}

func TestStreakStart(t *testing.T) {
	var s State
	t0 := time.Unix(100, 0)
	fail := &StatusError{Code: 500}
	s, _ = s.observe(nil, t0, 3, 2)
	s, _ = s.observe(fail, t0.Add(time.Second), 3, 2)
	s, _ = s.observe(fail, t0.Add(2*time.Second), 3, 2)
	if !s.StreakStart.Equal(t0.Add(time.Second)) {
		t.Fatalf("StreakStart %v, want the first failure's %v", s.StreakStart, t0.Add(time.Second))
	}
	s, _ = s.observe(nil, t0.Add(3*time.Second), 3, 2)
	if !s.StreakStart.IsZero() {
		t.Fatalf("StreakStart %v after a success, want zero", s.StreakStart)
	}
}

func TestHTTPProberReadsPhase(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not ready: "+strings.TrimPrefix(r.URL.Path, "/"), http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p := NewHTTPProber(time.Second)
	for phase, want := range map[string]Evidence{"announcing": ComingUp, "starting": ComingUp, "draining": Withdrawing,
		"drained": Withdrawing, "serving": Failed, "unheard-of": Failed} {
		err := p.Probe(context.Background(), srv.URL+"/"+phase)
		if ev, got := Classify(err); ev != want || (want != Failed && got != phase) {
			t.Errorf("503 %q: evidence %d phase %q, want %d", phase, ev, got, want)
		}
	}
}

func TestMonitorRestartsTargetOnNewStart(t *testing.T) {
	m := NewMonitor(Config{}, nil, nil, nil)
	t0 := time.Unix(100, 0)
	m.SetTargets([]Target{{Key: "a", URL: "http://x", Start: t0}})
	m.mu.Lock()
	m.targets["a"].state = State{Verdict: Healthy, EverHealthy: true}
	m.mu.Unlock()
	m.SetTargets([]Target{{Key: "a", URL: "http://x", Start: t0}})
	if s := m.States()["a"]; s.Verdict != Healthy {
		t.Fatalf("same start: verdict %s, want kept healthy", s.Verdict)
	}
	m.SetTargets([]Target{{Key: "a", URL: "http://x", Start: t0.Add(time.Minute)}})
	if s := m.States()["a"]; s.Verdict != Starting || s.EverHealthy {
		t.Fatalf("new start: %+v, want Starting and never healthy", s)
	}
}

// The agent names its phase in a header; the body may add why.
func TestHTTPProberReadsPhaseHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		phase := strings.TrimPrefix(r.URL.Path, "/")
		w.Header().Set(agentapi.PhaseHeader, phase)
		http.Error(w, "not ready: "+phase+": data plane not ready, cannot forward", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p := NewHTTPProber(time.Second)
	for phase, want := range map[string]Evidence{"announcing": ComingUp, "draining": Withdrawing, "serving": Failed} {
		if ev, _ := Classify(p.Probe(context.Background(), srv.URL+"/"+phase)); ev != want {
			t.Errorf("503 with %s %q: evidence %d, want %d", agentapi.PhaseHeader, phase, ev, want)
		}
	}
}
