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
	Name   string  `json:"name"`
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
	Error  string  `json:"error,omitempty"`
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

// LatencyModel is the fake GCE's timing and the probe settings the figures
// were measured under; a figure means nothing without it.
type LatencyModel struct {
	OpLatencySeconds       float64 `json:"opLatencySeconds"`
	RouteGraceSeconds      float64 `json:"routeGraceSeconds"`
	BootDelaySeconds       float64 `json:"bootDelaySeconds"`
	ShutdownTimeoutSeconds float64 `json:"shutdownTimeoutSeconds"`
	ProbeIntervalSeconds   float64 `json:"probeIntervalSeconds"`
	ProbeTimeoutSeconds    float64 `json:"probeTimeoutSeconds"`
	ProbeFailures          int     `json:"probeFailures"`
	DrainGraceSeconds      float64 `json:"drainGraceSeconds"`
	APIFaultRate           float64 `json:"apiFaultRate"` // in panic-api-faults
}

// Report is the lab's result: the JSON written by --json and the table.
type Report struct {
	LatencyModel LatencyModel     `json:"latencyModel"`
	Scenarios    []ScenarioResult `json:"scenarios"`
}

// OK reports whether every scenario passed (and there was one).
func (r Report) OK() bool {
	if len(r.Scenarios) == 0 {
		return false
	}
	for _, s := range r.Scenarios {
		if !s.OK {
			return false
		}
	}
	return true
}

// WriteTable prints the report for people: one row per check with OK/NO,
// the latency model in the heading.
func (r Report) WriteTable(w io.Writer) error {
	m := r.LatencyModel
	fmt.Fprintf(w, "vpclink lab report\nlatency model: operations %gs, route grace %gs, boot %gs, shutdown timeout %gs; probes every %gs, timeout %gs, %d failures; drain grace %gs; API fault rate %g%% (panic-api-faults)\n\n",
		m.OpLatencySeconds, m.RouteGraceSeconds, m.BootDelaySeconds, m.ShutdownTimeoutSeconds,
		m.ProbeIntervalSeconds, m.ProbeTimeoutSeconds, m.ProbeFailures, m.DrainGraceSeconds, m.APIFaultRate*100)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tCHECK\tVALUE\tLIMIT\tRESULT")
	for _, s := range r.Scenarios {
		for _, c := range s.Checks {
			op := "<="
			if c.exact {
				op = "=="
			}
			fmt.Fprintf(tw, "%s\t%s\t%g\t%s %g\t%s\n", s.Name, c.Name, c.Value, op, c.Limit, okNo(c.OK))
		}
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t(error)\tsee below\t\t%s\n", s.Name, okNo(false))
		}
		fmt.Fprintf(tw, "%s\t(scenario)\t\t\t%s\n", s.Name, okNo(s.OK))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range r.Scenarios {
		if s.Error != "" {
			fmt.Fprintf(w, "\n%s: error: %s", s.Name, oneLine(s.Error))
		}
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
