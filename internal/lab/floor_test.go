package lab

import (
	"strings"
	"testing"
	"time"
)

func TestFloor(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	del := func(issued, done float64, errText string) OpSpan {
		return OpSpan{Method: methodRouteDelete, Issued: at(issued), Done: at(done), Error: errText}
	}
	gone := func(s float64) []RouteChange { return []RouteChange{{At: at(s)}} }
	cases := []struct {
		name    string
		in      FloorInput
		floor   time.Duration
		errWant string
	}{
		{"one route: detection + delete + propagation",
			FloorInput{Failure: at(0), Detection: 3 * time.Second, Routes: []string{"a"},
				Ops: map[string][]OpSpan{"a": {del(3.4, 15.4, "")}}, Changes: map[string][]RouteChange{"a": gone(17.4)}},
			3*time.Second + 12*time.Second + 2*time.Second, ""},
		{"two routes: the slower one ends the outage",
			FloorInput{Failure: at(0), Detection: 3 * time.Second, Routes: []string{"a", "b"},
				Ops:     map[string][]OpSpan{"a": {del(3.2, 8.2, "")}, "b": {del(3.2, 23.2, "")}},
				Changes: map[string][]RouteChange{"a": gone(9.2), "b": gone(24.7)}},
			3*time.Second + 20*time.Second + 1500*time.Millisecond, ""},
		{"a failed delete does not count, nor one before the failure",
			FloorInput{Failure: at(0), Detection: 3 * time.Second, Routes: []string{"a"},
				Ops:     map[string][]OpSpan{"a": {del(-9, -1, ""), del(3.1, 8.1, "RESOURCE_NOT_READY: x"), del(9, 14, "")}},
				Changes: map[string][]RouteChange{"a": gone(15)}},
			3*time.Second + 5*time.Second + time.Second, ""},
		{"a closed write window: the wait for it replaces detection",
			FloorInput{Failure: at(0), Detection: 3 * time.Second, Blocked: at(41), Routes: []string{"a"},
				Ops: map[string][]OpSpan{"a": {del(41.5, 51.5, "")}}, Changes: map[string][]RouteChange{"a": gone(53.5)}},
			41*time.Second + 10*time.Second + 2*time.Second, ""},
		{"a route never deleted has no floor",
			FloorInput{Failure: at(0), Detection: 3 * time.Second, Routes: []string{"a"}},
			0, "route a: no successful delete"},
		{"no route", FloorInput{Failure: at(0)}, 0, "no route carried"},
	}
	for _, c := range cases {
		got, _, err := Floor(c.in)
		if c.errWant != "" {
			if err == nil || !strings.Contains(err.Error(), c.errWant) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.errWant)
			}
			continue
		}
		if err != nil || got != c.floor {
			t.Errorf("%s: floor %v (%v), want %v", c.name, got, err, c.floor)
		}
	}
}
