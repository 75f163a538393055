package lab

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBGPSessionTimers(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// Each step: at second t, an event; the row reads what the session
	// does. k = keepalive heard, c = peer closed, t = timer tick.
	cases := []struct {
		name  string
		steps string // "t:event ..."
		want  string // state after each step, and why it went down
	}{
		{"keepalives keep it up", "0:o 20:k 40:k 60:t 79.9:t", "E E E E E"},
		// A frozen peer: nothing heard after 20 s; the hold time (60 s)
		// runs from the last keepalive: down at 80 s, not before.
		{"frozen peer", "0:o 20:k 79.9:t 80:t", "E E E I(hold timer expired)"},
		// Frozen at 39.9 s, just before its next keepalive: down at 80 s,
		// 40 s later; frozen right after one costs the full 60 s.
		{"frozen just before a keepalive", "0:o 20:k 39.9:t 79.9:t 80:t", "E E E E I(hold timer expired)"},
		{"clean stop", "0:o 5:c 70:t", "E I(closed) I(closed)"},
		{"reopened", "0:o 5:c 6:o 65.9:t 66:t", "E I(closed) E E I(hold timer expired)"},
		{"keepalive while down is ignored", "0:o 5:c 10:k 100:t", "E I(closed) I(closed) I(closed)"},
	}
	for _, c := range cases {
		s := newBGPSession(nccKeepalive)
		var got []string
		for _, step := range strings.Fields(c.steps) {
			var sec float64
			var ev string
			if _, err := fmt.Sscanf(strings.Replace(step, ":", " ", 1), "%g %s", &sec, &ev); err != nil {
				t.Fatalf("%s: step %q: %v", c.name, step, err)
			}
			switch ev {
			case "o":
				s.open(at(sec))
			case "k":
				s.heardAt(at(sec))
			case "c":
				s.closed("closed")
			case "t":
				s.tick(at(sec))
			}
			if s.state == bgpEstablished {
				got = append(got, "E")
			} else {
				got = append(got, "I("+s.downWhy+")")
			}
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: %s, want %s", c.name, g, c.want)
		}
	}
	if h := newBGPSession(nccKeepalive).hold(); h != 60*time.Second {
		t.Errorf("hold time %s, want 60s (3 × the 20 s default keepalive)", h)
	}
}

func TestNCCRIBPropagation(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	a := FabricRoute{Network: NetworkA, DestRange: VPCBRange, NextHop: "10.0.1.2", Priority: nccRoutePriority}
	b := FabricRoute{Network: NetworkA, DestRange: VPCBRange, NextHop: "10.0.1.3", Priority: nccRoutePriority}
	var rib nccRIB
	rib.change("a", a, true, t0, 2*time.Second)
	rib.change("b", b, true, t0, time.Second)
	hops := func(s float64) string {
		var out []string
		for _, r := range rib.effective(t0.Add(time.Duration(s * float64(time.Second)))) {
			out = append(out, r.NextHop)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		at   float64
		want string
	}{{0.5, ""}, {1, "10.0.1.3"}, {2, "10.0.1.2,10.0.1.3"}} {
		if got := hops(c.at); got != c.want {
			t.Errorf("at %gs: %q, want %q", c.at, got, c.want)
		}
	}
	// A withdraw drawn with a shorter delay than the learn before it still
	// takes effect after it: one peer's changes keep their order.
	rib.change("c", a, true, t0.Add(10*time.Second), 3*time.Second)
	at := rib.change("c", a, false, t0.Add(11*time.Second), time.Second)
	if want := t0.Add(13 * time.Second); !at.Equal(want) {
		t.Errorf("withdraw in effect at %s, want %s (not before the learn)", at, want)
	}
	if got := hops(13); got != "10.0.1.2,10.0.1.3" {
		t.Errorf("after c's learn and withdraw: %q, want a and b only", got)
	}
	rib.change("a", a, false, t0.Add(20*time.Second), 0)
	if got := hops(20); got != "10.0.1.3" {
		t.Errorf("after a's withdraw: %q, want b only", got)
	}
}
