package routeplan

import (
	"strings"
	"testing"
	"time"
)

// TestNeverJudgedDeadWhileComingUp is each rule that keeps a forwarder that
// is coming up, or a route newer than the evidence, from a probe prune.
func TestNeverJudgedDeadWhileComingUp(t *testing.T) {
	cases := []struct {
		name   string
		fws    []fw
		routes []string
		want   []string
	}{
		{
			// Unhealthy, then one success: the verdict holds by hysteresis,
			// but there is no current failure to prune on.
			name: "unhealthy verdict with zero current failures: not pruned",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 0, everOK: yes(), everHealthy: yes()},
			},
			routes: []string{"3 10.19.16.0/20"},
		},
		{
			name: "failures below the threshold: not pruned",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 2, everOK: yes(), everHealthy: yes()},
			},
			routes: []string{"3 10.19.16.0/20"},
		},
		{
			// Created an hour ago, restarted 10 s ago (stop/start, MIG
			// restart, reboot after a panic): the boot grace counts again.
			name: "boot grace counts from the last start, not the creation",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 3, everOK: yes(), started: 10 * time.Second},
			},
			routes: []string{"3 10.19.16.0/20"},
		},
		{
			name: "last start older than the grace: pruned",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 3, everOK: yes(), started: 200 * time.Second, peers: "down"},
			},
			routes: []string{"3 10.19.16.0/20"},
			want:   []string{"delete 3 10.19.16.0/20 probe"},
		},
		{
			// A reconciler that just restarted never saw it Healthy, but its
			// routes were created after its start: it came up, then died.
			name: "within the grace but announced since its start: pruned",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 3, started: 30 * time.Second, peers: "down"},
			},
			routes: []string{"3 10.19.16.0/20 created=20s"},
			want:   []string{"delete 3 10.19.16.0/20 probe"},
		},
		{
			name: "within the grace, routes only from before its start: Starting",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 3, started: 30 * time.Second, peers: "down"},
			},
			routes: []string{"3 10.19.16.0/20 created=1h"},
		},
		{
			name: "a route newer than the failure streak is not pruned on it",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 5, everOK: yes(), everHealthy: yes(), streak: 5 * time.Second, peers: "down"},
			},
			routes: []string{"3 10.19.16.0/20 created=2s", "3 10.19.32.0/20 created=1h"},
			want:   []string{"delete 3 10.19.32.0/20 probe"},
		},
		{
			name: "draining: neither pruned nor counted against the group",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy},
				{name: "b", id: 2, verdict: Draining, everOK: yes(), everHealthy: yes()},
				{name: "c", id: 3, verdict: Draining, everOK: yes(), everHealthy: yes()},
			},
			routes: []string{"2 10.19.16.0/20", "3 10.19.16.0/20"},
		},
		{
			// The MIG row and the instance list already show id 11, and a
			// route of id 10 that is newer than incarnation 11: the lists
			// disagree, so it waits for a later pass.
			name:   "stale-looking route newer than the current incarnation: kept for now",
			fws:    []fw{{name: "a", id: 11, verdict: Starting, age: 30 * time.Second}},
			routes: []string{"10 10.19.16.0/20 a created=5s", "10 10.19.32.0/20 a created=1h"},
			want:   []string{"delete 10 10.19.32.0/20 stale"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Probe.Failures = 3
			check(t, Compute(build(cfg, c.fws, c.routes)), c.want, false)
		})
	}
}

// TestNoRestoreWhileDraining: a drain, a rollout or the agent's own stop
// removes routes on purpose; a restore would resurrect them.
func TestNoRestoreWhileDraining(t *testing.T) {
	fws := []fw{
		{name: "a", id: 1, verdict: Healthy, drain: true, wants: []string{"10.19.16.0/20"}},
		{name: "b", id: 2, verdict: Draining, everOK: yes(), everHealthy: yes(), wants: []string{"10.19.16.0/20"}},
		{name: "c", id: 3, verdict: Healthy, wants: []string{"10.19.16.0/20"}},
	}
	d := Compute(build(baseConfig(), fws, nil))
	check(t, d, []string{"insert 3 10.19.16.0/20 restore"}, false)
	if len(d.Rejected) != 1 || !strings.Contains(d.Rejected[0].Reason, "vpclink-drain") {
		t.Errorf("rejected %+v, want one naming the vpclink-drain mark", d.Rejected)
	}
	states := map[string]State{}
	for _, f := range d.Forwarders {
		states[f.Name] = f.State
	}
	if states["b"] != StateDraining {
		t.Errorf("forwarder b state %q, want draining", states["b"])
	}
}
