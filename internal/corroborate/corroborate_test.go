package corroborate

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func down(who string, ago time.Duration) Observation {
	return Observation{Observer: who, Answered: false, Err: "timeout", At: t0.Add(-ago)}
}

func up(who string, ago time.Duration) Observation {
	return Observation{Observer: who, Answered: true, At: t0.Add(-ago)}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		obs   []Observation
		rules Rules
		down  bool
		agree []string
		dis   []string
		stale int
	}{
		// Rule 1: a reconciler cut off from the forwarders reaches no peer
		// either, so it has nothing to corroborate with.
		{name: "no observations", down: false},
		{name: "one peer agrees: a panic", obs: []Observation{down("b", time.Second)}, down: true, agree: []string{"b"}},
		// Rule 2: two of three die together; the survivor corroborates both.
		{name: "the only survivor agrees", obs: []Observation{down("c", 0)}, down: true, agree: []string{"c"}},
		// Rule 3: a replica that cannot reach one forwarder is outvoted by
		// peers that can.
		{name: "peers see it answer", obs: []Observation{up("b", 0), up("c", 0)}, down: false, dis: []string{"b", "c"}},
		{name: "split evenly holds", obs: []Observation{down("b", 0), up("c", 0)}, down: false, agree: []string{"b"}, dis: []string{"c"}},
		{name: "majority down", obs: []Observation{down("b", 0), down("c", 0), up("d", 0)}, down: true, agree: []string{"b", "c"}, dis: []string{"d"}},
		{name: "stale observations do not count", obs: []Observation{down("b", 10*time.Second)}, down: false, stale: 1},
		{name: "newest observation per observer wins",
			obs:  []Observation{down("b", 3*time.Second), up("b", time.Second)},
			down: false, dis: []string{"b"}},
		{name: "the subject cannot vouch for itself", obs: []Observation{down("a", 0)}, down: false},
		{name: "min agree", obs: []Observation{down("b", 0)}, rules: Rules{MinAgree: 2}, down: false, agree: []string{"b"}},
		{name: "custom max age", obs: []Observation{down("b", 10*time.Second)}, rules: Rules{MaxAge: time.Minute}, down: true, agree: []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := Judge("a", tc.obs, t0, tc.rules)
			if j.Down != tc.down || !reflect.DeepEqual(j.Agree, tc.agree) || !reflect.DeepEqual(j.Disagree, tc.dis) || j.Stale != tc.stale {
				t.Errorf("Judge = %+v; want down=%v agree=%v disagree=%v stale=%d", j, tc.down, tc.agree, tc.dis, tc.stale)
			}
			if j.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestWitnesses(t *testing.T) {
	var group []string
	for i := range 10 {
		group = append(group, fmt.Sprintf("fwd-%d", i))
	}
	w := Witnesses("fwd-3", group, 3)
	if len(w) != 3 {
		t.Fatalf("Witnesses = %v, want 3", w)
	}
	for _, p := range w {
		if p == "fwd-3" {
			t.Fatalf("subject witnesses itself: %v", w)
		}
	}
	// Every replica asks the same peers, whatever order it lists them in.
	rev := append([]string(nil), group...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if got := Witnesses("fwd-3", rev, 3); !reflect.DeepEqual(got, w) {
		t.Errorf("order-dependent: %v vs %v", got, w)
	}
	// A witness leaving moves only its own slot.
	var without []string
	for _, p := range group {
		if p != w[0] {
			without = append(without, p)
		}
	}
	got := Witnesses("fwd-3", without, 3)
	if !reflect.DeepEqual(got[:2], w[1:]) {
		t.Errorf("after %s left: %v, want %v first", w[0], got, w[1:])
	}
	if got := Witnesses("a", []string{"a"}, 3); len(got) != 0 {
		t.Errorf("group of one: %v, want no witness", got)
	}
	if got := Witnesses("a", []string{"b", "b", "c"}, 0); len(got) != 2 {
		t.Errorf("duplicates or default k: %v", got)
	}
}
