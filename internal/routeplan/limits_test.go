package routeplan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vpclink/vpclink/internal/config"
)

// TestRestoreLimits: what a forwarder's /status can make the reconciler
// create is bounded by prefix length, priority and count.
func TestRestoreLimits(t *testing.T) {
	t.Run("prefix lengths", func(t *testing.T) {
		cfg := baseConfig()
		cfg.Allow = []config.Allow{
			{Network: "vpc-a", DestRanges: []string{"10.19.16.0/20"}, Priority: config.PriorityRange{Min: 900, Max: 900}},
			{Network: "vpc-a", DestRanges: []string{"10.20.0.0/16"}, Priority: config.PriorityRange{Min: 900, Max: 900},
				PrefixLength: &config.LengthRange{Min: 20, Max: 24}},
		}
		fws := []fw{{name: "a", id: 1, verdict: Healthy, wants: []string{
			"10.19.16.0/20",         // exactly an allowed range
			"10.19.16.7/32",         // a host inside it: hijack, refused
			"10.19.16.0/24",         // more specific, no lengths stated: refused
			"10.20.32.0/20",         // inside, length allowed
			"10.20.32.0/25",         // inside, too long
			"10.20.0.0/16",          // exactly the range
			"10.20.0.0/16 prio=100", // priority outside the entry's
		}}}
		d := Compute(build(cfg, fws, nil))
		check(t, d, []string{"insert 1 10.20.0.0/16 restore", "insert 1 10.19.16.0/20 restore", "insert 1 10.20.32.0/20 restore"}, false) // by route name
		if len(d.Rejected) != 4 {
			t.Errorf("rejected %+v, want 4", d.Rejected)
		}
	})
	t.Run("caps per forwarder and per pass", func(t *testing.T) {
		cfg := baseConfig()
		cfg.Restore = config.Restore{MaxPerForwarder: 3, MaxPerPass: 5}
		var wants []string
		for i := range 10 {
			wants = append(wants, fmt.Sprintf("10.19.%d.0/24", i))
		}
		fws := []fw{{name: "a", id: 1, verdict: Healthy, wants: wants}, {name: "b", id: 2, verdict: Healthy, wants: wants}}
		d := Compute(build(cfg, fws, nil))
		per := map[string]int{}
		for _, a := range d.Actions {
			per[a.Instance]++
		}
		if len(d.Actions) != 5 || per["a"] != 3 || per["b"] != 2 {
			t.Fatalf("inserts %v, want 3 for a and 2 for b", per)
		}
		if d.Capped != 15 {
			t.Errorf("Capped %d, want 15", d.Capped)
		}
		for _, rj := range d.Rejected {
			if !strings.HasPrefix(rj.Reason, "restore cap:") {
				t.Errorf("rejection %+v, want a restore cap", rj)
			}
		}
	})
}

// A group of one is never pruned on probe evidence, and the reason says so.
func TestGroupOfOneNotPrunedOnProbes(t *testing.T) {
	fws := []fw{{name: "a", id: 1, verdict: Unhealthy, fails: 5, everOK: yes(), everHealthy: yes(), peers: "down"}}
	d := Compute(build(baseConfig(), fws, []string{"1 10.19.16.0/20"}))
	check(t, d, nil, true)
	if !strings.Contains(d.FailStatic.Reason, "group of one is never pruned on probe evidence") {
		t.Errorf("fail-static reason %q does not say why", d.FailStatic.Reason)
	}
}

// A /status that says draining gets nothing back, whatever its phase says.
func TestNoRestoreForDrainingStatus(t *testing.T) {
	fws := []fw{{name: "a", id: 1, verdict: Healthy, wants: []string{"10.19.16.0/20"}}}
	in := build(baseConfig(), fws, nil)
	st := in.Wanted[1]
	st.Draining, st.Phase = true, "serving"
	in.Wanted[1] = st
	check(t, Compute(in), nil, false)
}
