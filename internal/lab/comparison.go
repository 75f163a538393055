package lab

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ComparedChecks are the figures the comparison sets side by side, in its
// table's order: what existing flows lose (longest gap, TCP stall, lost
// packets) and what new flows do.
var ComparedChecks = []string{CheckLongestGap, CheckTCPStall, CheckLostPackets, CheckNewFlowGap}

// ComparisonRow is one scenario at one operation latency under every design
// that ran it: each design's figures, and per figure vpclink's ratio to the
// best (lowest) baseline.
type ComparisonRow struct {
	Scenario  string            `json:"scenario"`
	OpLatency string            `json:"opLatency"`
	Designs   []DesignFigures   `json:"designs"` // vpclink first, then KnownDesigns' order
	VsBest    map[string]VsBest `json:"vsBestBaseline"`
}

// DesignFigures are one design's figures in one scenario (check name →
// value), and whether its checks passed.
type DesignFigures struct {
	Design  string             `json:"design"`
	OK      bool               `json:"ok"`
	Figures map[string]float64 `json:"figures"`
}

// VsBest compares vpclink with the best baseline on one figure. Ratio is
// vpclink's value over the best baseline's (null when that is 0);
// BaselineWins is set when the baseline did better, and then Best is the
// figure vpclink would need to match it.
type VsBest struct {
	Baseline     string   `json:"baseline"`
	Best         float64  `json:"best"`
	VPCLink      float64  `json:"vpclink"`
	Ratio        *float64 `json:"ratio"`
	BaselineWins bool     `json:"baselineWins"`
}

// Compare builds the comparison from the scenario results: one row per
// (scenario, operation latency) that ran under vpclink and at least one
// baseline. Pure.
func Compare(results []ScenarioResult) []ComparisonRow {
	type key struct{ scenario, lat string }
	var order []key
	rows := map[key]*ComparisonRow{}
	for _, s := range results {
		k := key{s.Name, s.OpLatency}
		row := rows[k]
		if row == nil {
			row = &ComparisonRow{Scenario: s.Name, OpLatency: s.OpLatency, VsBest: map[string]VsBest{}}
			rows[k] = row
			order = append(order, k)
		}
		f := DesignFigures{Design: s.Design, OK: s.OK, Figures: map[string]float64{}}
		for _, c := range s.Checks {
			for _, name := range ComparedChecks {
				if c.Name == name {
					f.Figures[name] = c.Value
				}
			}
		}
		row.Designs = append(row.Designs, f)
	}
	var out []ComparisonRow
	for _, k := range order {
		row := rows[k]
		sortDesigns(row.Designs)
		if len(row.Designs) < 2 || row.Designs[0].Design != DesignVPCLink {
			continue
		}
		own := row.Designs[0]
		for _, name := range ComparedChecks {
			v, ok := own.Figures[name]
			if !ok {
				continue
			}
			var best *DesignFigures
			for i := range row.Designs[1:] {
				d := &row.Designs[1+i]
				if b, ok := d.Figures[name]; ok && (best == nil || b < best.Figures[name]) {
					best = d
				}
			}
			if best == nil {
				continue
			}
			vs := VsBest{Baseline: best.Design, Best: best.Figures[name], VPCLink: v, BaselineWins: best.Figures[name] < v}
			if vs.Best != 0 {
				r := round3(v / vs.Best)
				vs.Ratio = &r
			}
			row.VsBest[name] = vs
		}
		out = append(out, *row)
	}
	return out
}

// sortDesigns puts vpclink first, then KnownDesigns' order.
func sortDesigns(ds []DesignFigures) {
	rank := func(n string) int {
		for i, k := range KnownDesigns {
			if k == n {
				return i
			}
		}
		return len(KnownDesigns)
	}
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && rank(ds[j].Design) < rank(ds[j-1].Design); j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// WriteComparison prints the comparison for people: per scenario, each
// design's figures, then vpclink's ratio to the best baseline per figure,
// saying plainly where a baseline wins and what vpclink would need.
func WriteComparison(w io.Writer, rows []ComparisonRow) error {
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\ncomparison (a baseline's checks are informational: only vpclink promises them)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SCENARIO\tOP LATENCY\tDESIGN\t%s\n", strings.Join(ComparedChecks, "\t"))
	for _, row := range rows {
		for _, d := range row.Designs {
			var cells []string
			for _, name := range ComparedChecks {
				if v, ok := d.Figures[name]; ok {
					cells = append(cells, fmt.Sprintf("%g", v))
				} else {
					cells = append(cells, "-")
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Scenario, row.OpLatency, d.Design, strings.Join(cells, "\t"))
		}
		var cells []string
		for _, name := range ComparedChecks {
			cells = append(cells, row.VsBest[name].cell())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Scenario, row.OpLatency, "vpclink/best", strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, row := range rows {
		for _, name := range ComparedChecks {
			if vs, ok := row.VsBest[name]; ok && vs.BaselineWins {
				fmt.Fprintf(w, "%s (%s): %s wins on %s: %g against vpclink's %g; vpclink would need %g to match it\n",
					row.Scenario, row.OpLatency, vs.Baseline, name, vs.Best, vs.VPCLink, vs.Best)
			}
		}
	}
	return nil
}

// cell is one ratio for the table: "0.25 (ilb)", "= (ilb)" where both are
// 0, "- " where there is no baseline figure.
func (vs VsBest) cell() string {
	switch {
	case vs.Baseline == "":
		return "-"
	case vs.Ratio != nil:
		return fmt.Sprintf("%g (%s)", *vs.Ratio, vs.Baseline)
	case vs.VPCLink == 0:
		return fmt.Sprintf("= (%s)", vs.Baseline)
	default:
		return fmt.Sprintf("worse (%s: 0)", vs.Baseline)
	}
}
