package reconciler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/health"
)

// A correlated failure of most of the group: the survivor corroborates, both
// dead forwarders are pruned, and the survivor keeps its routes.
func TestZoneOutagePrunedOnCorroboration(t *testing.T) {
	h, foreign := setup(t)
	r, reg := h.start("r1")
	waitHealthy(h, r, 3)
	insts := h.instances()
	for _, inst := range insts[:2] {
		h.agent(inst).mode.Store(agentHung)
	}
	h.waitFor("both dead forwarders pruned", 10*time.Second, func() bool {
		return len(h.routesOf(insts[0].ID)) == 0 && len(h.routesOf(insts[1].ID)) == 0
	})
	if got := len(h.routesOf(insts[2].ID)); got != len(wantedRanges) {
		t.Errorf("survivor has %d routes, want %d", got, len(wantedRanges))
	}
	for _, o := range r.LastReport().Outcomes {
		if o.Action.Evidence == "probe" && !strings.Contains(o.Action.Reason, "corroborated by "+insts[2].Name) {
			t.Errorf("prune reason %q does not name the witness %s", o.Action.Reason, insts[2].Name)
		}
	}
	if n := gauge(t, reg, "vpclink_witness_asks_total"); n < 2 {
		t.Errorf("vpclink_witness_asks_total = %v, want >= 2", n)
	}
	h.assertPresent(foreign)
}

// blindProber cannot reach one address: a replica partitioned from one
// forwarder while everyone else reaches it.
type blindProber struct {
	health.Prober
	blind string
}

func (p blindProber) Probe(ctx context.Context, url string) error {
	if strings.HasPrefix(url, p.blind) {
		<-ctx.Done()
		return errors.New("blind: " + ctx.Err().Error())
	}
	return p.Prober.Probe(ctx, url)
}

// Two replicas with divergent views: the one that cannot reach a forwarder
// holds its prune (the peers see it answer), so nothing churns.
func TestBlindReplicaCausesNoChurn(t *testing.T) {
	h, foreign := setup(t)
	victim := h.instances()[0]
	blind := h.forwarderURL(victim)
	r1, reg1 := h.startWith("blind", func(o *Options) {
		o.Prober = blindProber{Prober: health.NewHTTPProber(h.cfg.Probe.Timeout.Duration), blind: blind}
	})
	r2, _ := h.start("sighted")
	waitHealthy(h, r2, 3)
	h.waitFor("the blind replica holds one forwarder", 5*time.Second, func() bool {
		return gauge(t, reg1, "vpclink_uncorroborated_forwarders") == 1
	})
	h.fake.ResetRequestCounts()
	time.Sleep(time.Second) // many probe rounds and passes of both
	if n := h.mutatingCalls(); n != 0 {
		t.Errorf("%d mutating calls by replicas with divergent views, want 0", n)
	}
	doc := getStatus(t, r1)
	found := false
	for _, f := range doc.Forwarders {
		if f.Instance == victim.Name && f.Corroboration != nil && len(f.Corroboration.Disagree) > 0 {
			found = true
		}
	}
	if !found {
		t.Errorf("/status of the blind replica does not show who saw %s answer: %+v", victim.Name, doc.Forwarders)
	}
	h.assertPresent(foreign)
}
