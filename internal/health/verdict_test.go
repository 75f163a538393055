package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestObserve states the verdict logic as a table: a sequence of results
// (S success, F failure) and the state after each, for failures=3,
// successes=2. Rendered as "verdict f/s", e.g. "healthy 0/2".
func TestObserve(t *testing.T) {
	cases := []struct {
		results string
		want    []string
	}{
		{"SS", []string{"starting 0/1", "healthy 0/2"}},
		{"FFF", []string{"starting 1/0", "starting 2/0", "unhealthy 3/0"}},
		// Alternating never leaves Starting.
		{"SFSF", []string{"starting 0/1", "starting 1/0", "starting 0/1", "starting 1/0"}},
		// Hysteresis: Healthy survives 2 failures; a success resets them.
		{"SSFFSFFF", []string{"starting 0/1", "healthy 0/2", "healthy 1/0", "healthy 2/0", "healthy 0/1", "healthy 1/0", "healthy 2/0", "unhealthy 3/0"}},
		// Unhealthy survives 1 success; a failure resets it.
		{"FFFSFSS", []string{"starting 1/0", "starting 2/0", "unhealthy 3/0", "unhealthy 0/1", "unhealthy 1/0", "unhealthy 0/1", "healthy 0/2"}},
	}
	for _, c := range cases {
		t.Run(c.results, func(t *testing.T) {
			var s State
			start := time.Unix(1000, 0)
			var got []string
			var changes int
			for i, r := range c.results {
				at := start.Add(time.Duration(i) * time.Second)
				var err error
				if r == 'F' {
					err = errors.New("boom")
				}
				var changed bool
				s, changed = s.observe(err, at, 3, 2)
				if changed {
					changes++
					if !s.LastChange.Equal(at) {
						t.Errorf("after %d: LastChange %v, want %v", i, s.LastChange, at)
					}
				}
				got = append(got, fmt.Sprintf("%s %d/%d", s.Verdict, s.ConsecutiveFailures, s.ConsecutiveSuccesses))
			}
			if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
				t.Fatalf("got  %s\nwant %s", strings.Join(got, ", "), strings.Join(c.want, ", "))
			}
			if s.EverSucceeded != strings.Contains(c.results, "S") {
				t.Errorf("EverSucceeded %v", s.EverSucceeded)
			}
			if strings.Contains(c.results, "F") && s.LastError != "boom" {
				t.Errorf("LastError %q", s.LastError)
			}
		})
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Starting: "starting", Healthy: "healthy", Unhealthy: "unhealthy", Draining: "draining", 7: "verdict(7)"} {
		if v.String() != want {
			t.Errorf("%d: %q, want %q", int(v), v.String(), want)
		}
	}
}

func TestVerdictJSON(t *testing.T) {
	in := State{Verdict: Unhealthy, ConsecutiveFailures: 3, LastError: "x"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"Verdict":"unhealthy"`) {
		t.Errorf("verdict not written as a word: %s", b)
	}
	var out State
	if err := json.Unmarshal(b, &out); err != nil || out.Verdict != Unhealthy || out.ConsecutiveFailures != 3 {
		t.Errorf("round trip: %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"Verdict":"dead"}`), &out); err == nil {
		t.Error("unknown verdict accepted")
	}
}

func TestEverHealthyOnlyAfterThreshold(t *testing.T) {
	var s State
	at := time.Unix(0, 0)
	fail := errors.New("503")
	s, _ = s.observe(nil, at, 3, 2) // one success: answered, not yet healthy
	if !s.EverSucceeded || s.EverHealthy {
		t.Fatalf("after one success: EverSucceeded=%v EverHealthy=%v, want true false", s.EverSucceeded, s.EverHealthy)
	}
	for i := 0; i < 3; i++ {
		s, _ = s.observe(fail, at, 3, 2)
	}
	if s.EverHealthy {
		t.Fatal("EverHealthy set without ever reaching the success threshold")
	}
	s, _ = s.observe(nil, at, 3, 2)
	s, _ = s.observe(nil, at, 3, 2)
	s, _ = s.observe(fail, at, 3, 2)
	if !s.EverHealthy {
		t.Fatal("EverHealthy lost after a failure; it must stay set")
	}
}
