package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/lab/traffic"
)

func flows(n int, stall time.Duration, resumed bool) []traffic.TCPResult {
	var out []traffic.TCPResult
	for i := 0; i < n; i++ {
		out = append(out, traffic.TCPResult{WorstStall: stall, Resumed: resumed})
	}
	return out
}

func TestEvaluate(t *testing.T) {
	steady := Measurement{UDP: traffic.UDPResult{Sent: 2000, Received: 2000}, TCP: flows(8, 50*time.Millisecond, true)}
	outage := Measurement{UDP: traffic.UDPResult{Sent: 3000, Received: 1900, Lost: 1100, LongestGap: 4400 * time.Millisecond}, TCP: flows(8, 9*time.Second, true)}
	cases := []struct {
		name   string
		obs    Observation
		lim    Limits
		ok     bool
		failed []string // checks that must be NO
	}{
		{"planned, clean", Observation{TimeToRouting: []time.Duration{6 * time.Second}, Traffic: steady, GroupSize: 3, WantGroupSize: 3}, plannedLimits, true, nil},
		{"planned, one packet lost", Observation{TimeToRouting: []time.Duration{6 * time.Second}, Traffic: Measurement{UDP: traffic.UDPResult{Sent: 10, Received: 9, Lost: 1, LongestGap: 8 * time.Millisecond}, TCP: flows(8, 0, true)}, GroupSize: 3, WantGroupSize: 3}, plannedLimits, false, []string{CheckLostPackets, CheckLongestGap}},
		{"planned, forwarder never routed", Observation{NotRouted: 1, Traffic: steady, GroupSize: 3, WantGroupSize: 3}, plannedLimits, false, []string{CheckTimeToRouting}},
		{"planned, slow routing", Observation{TimeToRouting: []time.Duration{5 * time.Second, 31 * time.Second}, Traffic: steady, GroupSize: 3, WantGroupSize: 3}, plannedLimits, false, []string{CheckTimeToRouting}},
		{"routes left behind and wrong size", Observation{TimeToRouting: []time.Duration{time.Second}, Traffic: steady, RoutesLeft: 2, GroupSize: 2, WantGroupSize: 3}, plannedLimits, false, []string{CheckRoutesLeft, CheckGroupSize}},
		{"panic within budget", Observation{TimeToRouting: []time.Duration{7 * time.Second}, Traffic: outage, GroupSize: 3, WantGroupSize: 3, Floor: 3500 * time.Millisecond, FloorLimit: 26 * time.Second}, panicLimits, true, nil},
		{"panic over budget", Observation{TimeToRouting: []time.Duration{7 * time.Second}, Traffic: Measurement{UDP: traffic.UDPResult{Sent: 9000, Lost: 5000, LongestGap: 20 * time.Second}, TCP: flows(8, 9*time.Second, true)}, GroupSize: 3, WantGroupSize: 3, Floor: 3500 * time.Millisecond, FloorLimit: 26 * time.Second}, panicLimits, false, []string{CheckLostPackets, CheckLongestGap, CheckOverhead}},
		// GCE's slow delete puts the floor above 15 s: the outage limits
		// follow it, and only vpclink's overhead counts.
		{"panic, high floor, small overhead", Observation{TimeToRouting: []time.Duration{7 * time.Second}, Traffic: Measurement{UDP: traffic.UDPResult{Sent: 9000, Lost: 5200, LongestGap: 21 * time.Second}, TCP: flows(8, 40*time.Second, true)}, GroupSize: 3, WantGroupSize: 3, Floor: 19500 * time.Millisecond, FloorLimit: 26 * time.Second}, panicLimits, true, nil},
		{"panic, high floor, large overhead", Observation{TimeToRouting: []time.Duration{7 * time.Second}, Traffic: Measurement{UDP: traffic.UDPResult{Sent: 9000, Lost: 5300, LongestGap: 23 * time.Second}, TCP: flows(8, 30*time.Second, true)}, GroupSize: 3, WantGroupSize: 3, Floor: 19500 * time.Millisecond, FloorLimit: 26 * time.Second}, panicLimits, false, []string{CheckLongestGap, CheckOverhead}},
		{"panic, floor beyond the model", Observation{TimeToRouting: []time.Duration{7 * time.Second}, Traffic: outage, GroupSize: 3, WantGroupSize: 3, Floor: 4 * time.Second, FloorLimit: 3 * time.Second}, panicLimits, false, []string{CheckFloor}},
		{"panic, victim's route never deleted", Observation{TimeToRouting: []time.Duration{7 * time.Second}, Traffic: outage, GroupSize: 3, WantGroupSize: 3, FloorErr: errors.New("route x: no successful delete"), FloorLimit: 26 * time.Second}, panicLimits, false, []string{CheckFloor, CheckOverhead}},
		{"panic, a healthy forwarder pruned", Observation{TimeToRouting: []time.Duration{7 * time.Second}, Traffic: outage, GroupSize: 3, WantGroupSize: 3, Floor: 3500 * time.Millisecond, FloorLimit: 26 * time.Second, HealthyPruned: 2}, panicLimits, false, []string{CheckHealthyPruned}},
		{"panic, a TCP flow never resumed", Observation{TimeToRouting: []time.Duration{7 * time.Second}, Traffic: Measurement{UDP: outage.UDP, TCP: append(flows(7, time.Second, true), traffic.TCPResult{WorstStall: 12 * time.Second})}, GroupSize: 3, WantGroupSize: 3, Floor: 3500 * time.Millisecond, FloorLimit: 26 * time.Second}, panicLimits, false, []string{CheckTCPStalled}},
		{"flap recovered late", Observation{Traffic: Measurement{UDP: traffic.UDPResult{Sent: 2000, Lost: 600, LongestGap: 2400 * time.Millisecond}, TCP: flows(8, 3*time.Second, true)}, Recovery: 1500 * time.Millisecond, GroupSize: 3, WantGroupSize: 3}, flapLimits, false, []string{CheckRecovery}},
		{"no traffic measured", Observation{TimeToRouting: []time.Duration{time.Second}, GroupSize: 1, WantGroupSize: 1}, plannedLimits, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate("s", c.obs, c.lim)
			if r.OK != c.ok {
				t.Errorf("ok = %v, want %v: %+v", r.OK, c.ok, r)
			}
			var failed []string
			for _, ch := range r.Checks {
				if !ch.OK {
					failed = append(failed, ch.Name)
				}
			}
			if strings.Join(failed, ",") != strings.Join(c.failed, ",") {
				t.Errorf("failed checks %v, want %v", failed, c.failed)
			}
			_, hasTTR := find(r.Checks, CheckTimeToRouting)
			if hasTTR != (c.lim.TimeToRouting > 0) {
				t.Errorf("time_to_routing_s present = %v with limit %v", hasTTR, c.lim.TimeToRouting)
			}
		})
	}
}

func find(cs []Check, name string) (Check, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// The JSON shape is a contract (DESIGN.md): exactly these keys.
func TestReportJSONShape(t *testing.T) {
	r := Report{LatencyModel: DefaultOptions().Model()}
	res := Evaluate("panic", Observation{
		TimeToRouting: []time.Duration{7 * time.Second},
		Traffic:       Measurement{UDP: traffic.UDPResult{Sent: 100, Received: 90, Lost: 10, LongestGap: 4100 * time.Millisecond}, TCP: flows(8, time.Second, true)},
		GroupSize:     3, WantGroupSize: 3,
		Floor: 3500 * time.Millisecond, FloorLimit: 26 * time.Second,
	}, panicLimits)
	res.Design, res.OpLatency = DesignVPCLink, "5s..20s"
	r.Scenarios = append(r.Scenarios, res)
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var generic struct {
		LatencyModel map[string]any `json:"latencyModel"`
		Scenarios    []map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	m := generic.LatencyModel
	if fmt.Sprintf("%v %v %v %v %v", m["profile"], m["opLatency"], m["propagation"], m["bootDelaySeconds"], m["bootGraceSeconds"]) != "gce [5s..20s] 1s..3s 20 120" {
		t.Errorf("latencyModel = %v, want the gce profile", m)
	}
	if h, ok := m["autohealing"].(map[string]any); !ok || h["path"] != "/healthz" || h["initialDelaySeconds"] != 180.0 {
		t.Errorf("latencyModel.autohealing = %v, want the forwarder module's check", m["autohealing"])
	}
	sc := generic.Scenarios[0]
	if len(sc) != 5 || string(sc["name"]) != `"panic"` || string(sc["ok"]) != "true" ||
		string(sc["design"]) != `"vpclink"` || string(sc["opLatency"]) != `"5s..20s"` {
		t.Fatalf("scenario keys = %s, want exactly name, design, opLatency, ok, checks", b)
	}
	var checks []map[string]any
	if err := json.Unmarshal(sc["checks"], &checks); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		"longest_gap_s":  {"value": 4.1, "limit": 15.0, "ok": true},
		"floor_s":        {"value": 3.5, "limit": 26.0, "ok": true},
		"overhead_s":     {"value": 0.6, "limit": 2.0, "ok": true},
		"healthy_pruned": {"value": 0.0, "limit": 0.0, "ok": true},
	}
	for _, c := range checks {
		if len(c) != 4 {
			t.Errorf("check %v: want exactly name, value, limit, ok", c)
		}
		name, _ := c["name"].(string)
		for k, v := range want[name] {
			if c[k] != v {
				t.Errorf("%s %s = %v, want %v", name, k, c[k], v)
			}
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("no %s check in %s", name, b)
	}
}

func TestReportTable(t *testing.T) {
	r := Report{LatencyModel: DefaultOptions().Model(), Scenarios: []ScenarioResult{
		Evaluate("scale-3-1", Observation{Traffic: Measurement{UDP: traffic.UDPResult{Sent: 5, Received: 5}, TCP: flows(1, 0, true)}, GroupSize: 1, WantGroupSize: 1}, Limits{}),
		{Name: "panic", Error: "setup: " + errors.New("group of 3 routing: timed out").Error()},
	}}
	r.Scenarios[1].Finish()
	for i := range r.Scenarios {
		r.Scenarios[i].Design, r.Scenarios[i].OpLatency = DesignVPCLink, "2s"
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"model: profile gce: operations 5s..20s, propagation 1s..3s, boot 20s",
		"scale-3-1  vpclink  2s          lost_packets",
		"scale-3-1  vpclink  2s          group_size",
		"== 1",
		"panic      vpclink  2s          (error)",
		"panic (vpclink, 2s): error: setup: group of 3 routing: timed out",
		"NO, some check failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if r.OK() {
		t.Error("report with a failed scenario is OK")
	}
}
