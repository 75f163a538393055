package lab

import (
	"bytes"
	"strings"
	"testing"
)

func result(name, design string, ok bool, figures ...float64) ScenarioResult {
	r := ScenarioResult{Name: name, Design: design, OpLatency: "12s", OK: ok}
	for i, v := range figures {
		r.Checks = append(r.Checks, Check{Name: ComparedChecks[i], Value: v})
	}
	return r
}

// One row per scenario; vpclink first whatever the order of the results;
// ratios to the lowest baseline per figure; a baseline that does better is
// said plainly with the figure vpclink would need.
func TestCompare(t *testing.T) {
	rows := Compare([]ScenarioResult{
		result("panic", "autoheal-cleanup", false, 28, 40, 7000, 28),
		result("panic", "vpclink", true, 7, 9, 1750, 7),
		result("panic", "shutdown-script", false, 300, 310, 75000, 2),
		result("nic1-flap", "vpclink", true, 0, 0.05, 0, 0),
		result("nic1-flap", "shutdown-script", false, 60, 0, 15000, 0),
		result("scale-0-1", "vpclink", true, 0, 0, 0, 0), // no baseline: no row
	})
	if len(rows) != 2 || rows[0].Scenario != "panic" || rows[1].Scenario != "nic1-flap" {
		t.Fatalf("rows %+v", rows)
	}
	p := rows[0]
	if p.Designs[0].Design != "vpclink" || p.Designs[1].Design != "shutdown-script" || p.Designs[2].Design != "autoheal-cleanup" {
		t.Errorf("design order %+v", p.Designs)
	}
	gap := p.VsBest[CheckLongestGap]
	if gap.Baseline != "autoheal-cleanup" || gap.Ratio == nil || *gap.Ratio != 0.25 || gap.BaselineWins {
		t.Errorf("longest gap vs best %+v", gap)
	}
	nf := p.VsBest[CheckNewFlowGap]
	if nf.Baseline != "shutdown-script" || !nf.BaselineWins || nf.Best != 2 || *nf.Ratio != 3.5 {
		t.Errorf("new flow gap vs best %+v", nf)
	}
	flap := rows[1].VsBest
	if flap[CheckTCPStall].Ratio != nil || !flap[CheckTCPStall].BaselineWins || flap[CheckLostPackets].Ratio == nil || *flap[CheckLostPackets].Ratio != 0 || flap[CheckLostPackets].BaselineWins {
		t.Errorf("zero baselines: %+v", flap)
	}
	var b bytes.Buffer
	if err := WriteComparison(&b, rows); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"0.25 (autoheal-cleanup)",
		"panic (12s): shutdown-script wins on new_flow_gap_s: 2 against vpclink's 7; vpclink would need 2 to match it",
		"= (shutdown-script)",
		"worse (shutdown-script: 0)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison table lacks %q:\n%s", want, out)
		}
	}
}
