package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Check is one measured value against its limit. Every check passes when
// Value ≤ Limit, except exact checks (group size) which pass when equal.
type Check struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	OK    bool    `json:"ok"`
	exact bool
}

// AtMost is a check that passes when value ≤ limit.
func AtMost(name string, value, limit float64) Check {
	value = round3(value)
	return Check{Name: name, Value: value, Limit: limit, OK: value <= limit}
}

// Exactly is a check that passes when value == want.
func Exactly(name string, value, want float64) Check {
	return Check{Name: name, Value: value, Limit: want, OK: value == want, exact: true}
}

// Seconds is a duration as a check value: seconds, to the millisecond.
func Seconds(d time.Duration) float64 { return round3(d.Seconds()) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// ScenarioResult is one scenario's checks. Error is set when the scenario
// could not run to its end; such a scenario fails whatever its checks say.
type ScenarioResult struct {
	Name      string  `json:"name"`
	Design    string  `json:"design"`    // vpclink, or the baseline it ran
	OpLatency string  `json:"opLatency"` // the sweep point: "12s" or "5s..20s"
	OK        bool    `json:"ok"`
	Checks    []Check `json:"checks"`
	Error     string  `json:"error,omitempty"`
	// Informational marks a baseline's row: measured with vpclink's
	// limits, reported, never failing the run (only vpclink promises them).
	Informational bool `json:"informational,omitempty"`
}

// Finish sets OK from the checks and the error.
func (s *ScenarioResult) Finish() {
	s.OK = s.Error == "" && len(s.Checks) > 0
	for _, c := range s.Checks {
		if !c.OK {
			s.OK = false
		}
	}
}

// LatencyModel is everything a run's figures were measured under: the
// fake GCE's timing, the group's autohealing, and vpclink's own settings. A
// figure means nothing without it.
type LatencyModel struct {
	Profile                string            `json:"profile"`
	OpLatency              []string          `json:"opLatency"`   // every sweep point, D or MIN..MAX
	Propagation            string            `json:"propagation"` // operation DONE → data plane
	RouteGraceSeconds      float64           `json:"routeGraceSeconds"`
	BootDelaySeconds       float64           `json:"bootDelaySeconds"`
	ShutdownTimeoutSeconds float64           `json:"shutdownTimeoutSeconds"`
	AutoHealing            *AutoHealingModel `json:"autohealing"`      // null: the lab recreates panicked members itself
	BootGraceSeconds       float64           `json:"bootGraceSeconds"` // the reconciler's
	ProbeIntervalSeconds   float64           `json:"probeIntervalSeconds"`
	ProbeTimeoutSeconds    float64           `json:"probeTimeoutSeconds"`
	ProbeFailures          int               `json:"probeFailures"`
	DrainGraceSeconds      float64           `json:"drainGraceSeconds"`
	APIFaultRate           float64           `json:"apiFaultRate"`         // in panic-api-faults
	WritesPerMinute        int               `json:"writesPerMinute"`      // write budget in panic-rate-limited
	OverheadLimitSeconds   float64           `json:"overheadLimitSeconds"` // vpclink's budget over the floor
	// Designs is each design's own part of the model where a run has
	// more than vpclink: its group's autohealing (null: none).
	Designs map[string]DesignModel `json:"designs,omitempty"`
}

// DesignModel is what a design sets in the model.
type DesignModel struct {
	AutoHealing *AutoHealingModel `json:"autohealing"`
}

// AutoHealingModel is the MIG health check that recreates unhealthy members.
type AutoHealingModel struct {
	Port                int     `json:"port"`
	Path                string  `json:"path"`
	IntervalSeconds     float64 `json:"intervalSeconds"`
	TimeoutSeconds      float64 `json:"timeoutSeconds"`
	HealthyThreshold    int     `json:"healthyThreshold"`
	UnhealthyThreshold  int     `json:"unhealthyThreshold"`
	InitialDelaySeconds float64 `json:"initialDelaySeconds"`
}

// Summary is the model in one line, for the table's heading and progress.
func (m LatencyModel) Summary() string {
	heal := "off (the lab recreates panicked members)"
	if h := m.AutoHealing; h != nil {
		heal = fmt.Sprintf("GET %s :%d every %gs, timeout %gs, %d failures, initial delay %gs", h.Path, h.Port, h.IntervalSeconds, h.TimeoutSeconds, h.UnhealthyThreshold, h.InitialDelaySeconds)
	}
	return fmt.Sprintf("profile %s: operations %s, propagation %s, boot %gs, route grace %gs, shutdown timeout %gs; autohealing %s; "+
		"reconciler probes every %gs, timeout %gs, %d failures, boot grace %gs; drain grace %gs; API fault rate %g%% (panic-api-faults); %d writes/min (panic-rate-limited); overhead limit %gs",
		m.Profile, strings.Join(m.OpLatency, " | "), m.Propagation, m.BootDelaySeconds, m.RouteGraceSeconds, m.ShutdownTimeoutSeconds, heal,
		m.ProbeIntervalSeconds, m.ProbeTimeoutSeconds, m.ProbeFailures, m.BootGraceSeconds, m.DrainGraceSeconds, m.APIFaultRate*100, m.WritesPerMinute, m.OverheadLimitSeconds)
}

// Report is the lab's result: the JSON written by --json and the table.
type Report struct {
	LatencyModel LatencyModel     `json:"latencyModel"`
	Scenarios    []ScenarioResult `json:"scenarios"`
	// Comparison sets vpclink's figures beside the baselines' where a run
	// had more than one design (Compare).
	Comparison []ComparisonRow `json:"comparison,omitempty"`
}

// OK reports whether every scenario passed (and there was one); a
// baseline's rows are informational and do not count.
func (r Report) OK() bool {
	if len(r.Scenarios) == 0 {
		return false
	}
	for _, s := range r.Scenarios {
		if !s.OK && !s.Informational {
			return false
		}
	}
	return true
}

// WriteTable prints the report for people: one row per check with OK/NO,
// the latency model in the heading.
func (r Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "vpclink lab report\nmodel: %s\n\n", r.LatencyModel.Summary())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tDESIGN\tOP LATENCY\tCHECK\tVALUE\tLIMIT\tRESULT")
	for _, s := range r.Scenarios {
		for _, c := range s.Checks {
			op := "<="
			if c.exact {
				op = "=="
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%g\t%s %g\t%s\n", s.Name, s.Design, s.OpLatency, c.Name, c.Value, op, c.Limit, okNo(c.OK))
		}
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t(error)\tsee below\t\t%s\n", s.Name, s.Design, s.OpLatency, okNo(false))
		}
		verdict := okNo(s.OK)
		if s.Informational {
			verdict += " (baseline: informational)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t(scenario)\t\t\t%s\n", s.Name, s.Design, s.OpLatency, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Scenarios {
		if s.Error != "" {
			fmt.Fprintf(w, "\n%s (%s, %s): error: %s", s.Name, s.Design, s.OpLatency, oneLine(s.Error))
		}
	}
	if err := WriteComparison(w, r.Comparison); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nlab: %s\n", map[bool]string{true: "OK, every check passed", false: "NO, some check failed"}[r.OK()])
	return err
}

func okNo(ok bool) string {
	if ok {
		return "OK"
	}
	return "NO"
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return s
}

// WriteJSON writes the report as indented JSON to path.
func (r Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}
