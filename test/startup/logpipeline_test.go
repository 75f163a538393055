package startup

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/yaml"

	"github.com/vpclink/vpclink/internal/logging"
)

// The Ops Agent config the startup script writes, applied to journal records
// the way the Ops Agent's processors act on them, must yield log entries that
// carry every jsonPayload field the monitoring module's log-based metrics
// read, and nothing from other units.
//
// The processors are modelled from the Ops Agent's configuration generator
// (GoogleCloudPlatform/ops-agent, confgenerator/logging_processors.go and
// fluentbit/processors.go): parse_json becomes Fluent Bit's parser filter
// with Key_Name = field, the record's own key, and without Reserve_Data, so
// the parsed object replaces the record; the systemd_journald receiver's
// records carry journald's fields (MESSAGE, _SYSTEMD_UNIT) as keys, which
// become jsonPayload; an exclude_logs expression addresses them as
// jsonPayload.<key>. Only the forms the script writes are modelled: any
// other form fails the test rather than pass unread.
func TestOpsAgentConfigFeedsTheLogMetrics(t *testing.T) {
	v := newVM(t)
	bin := fakeBinary("v1")
	v.md.set(
		"vpclink-binary-url", v.releases.publish("/vpclink/v1/vpclink", bin),
		"vpclink-binary-sha256", sha256Hex(bin),
		"vpclink-unit", repoFile(t, "systemd/"+agentUnit),
		"vpclink-ops-agent", "true",
		"vpclink-metrics-job", "vpclink-agent",
		"vpclink-metrics-port", "9780",
	)
	// Installed already (an image with the Ops Agent), so the config is
	// written in the foreground.
	if err := os.MkdirAll(filepath.Join(v.root, "etc/google-cloud-ops-agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.state, "google-cloud-ops-agent.enabled"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	v.ok("daemon-reload", "enable "+agentUnit, "restart --no-block "+agentUnit, "restart google-cloud-ops-agent")
	pipeline := loadLogPipeline(t, v.file("/etc/google-cloud-ops-agent/config.yaml"))

	// vpclink's own lines, written by its logger with its field helpers (the
	// single error key included), as journald stores them; then other
	// units' lines, JSON among them, from testdata.
	var records []map[string]any
	for _, line := range vpclinkLogLines() {
		records = append(records, map[string]any{"_SYSTEMD_UNIT": agentUnit, "PRIORITY": "6", "SYSLOG_IDENTIFIER": "vpclink", "MESSAGE": line})
	}
	raw, err := os.ReadFile("testdata/journal.json")
	if err != nil {
		t.Fatal(err)
	}
	var others []map[string]any
	if err := json.Unmarshal(raw, &others); err != nil {
		t.Fatal(err)
	}
	records = append(records, others...)
	var entries []logEntry
	for _, r := range records {
		if e, kept := pipeline.apply(t, r); kept {
			entries = append(entries, e)
		} else if r["_SYSTEMD_UNIT"] == agentUnit {
			t.Errorf("a line of %s was dropped: %v", agentUnit, r["MESSAGE"])
		}
	}
	if len(entries) != 2 {
		t.Fatalf("want the 2 lines of %s as entries, got %d: %+v", agentUnit, len(entries), entries)
	}
	for _, e := range entries {
		if e.severity == "" || e.payload["severity"] != nil {
			t.Errorf("severity must move from jsonPayload to the entry: %+v", e)
		}
	}
	if entries[0].severity != "WARNING" || entries[0].payload["err"] == nil {
		t.Errorf("the failed insert must be a WARNING entry with jsonPayload.err: %+v", entries[0])
	}

	// Every jsonPayload field the log-based metrics filter on or extract.
	tf, err := os.ReadFile(filepath.Join(repoRoot, "terraform/modules/monitoring/main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, m := range regexp.MustCompile(`jsonPayload\.([A-Za-z_]+)`).FindAllStringSubmatch(string(tf), -1) {
		read[m[1]] = true
	}
	for _, field := range []string{"component", "err", "op"} {
		if !read[field] {
			t.Errorf("terraform/modules/monitoring/main.tf no longer reads jsonPayload.%s; update this test", field)
		}
	}
	var missing []string
	for field := range read {
		if !slices.ContainsFunc(entries, func(e logEntry) bool { return e.payload[field] != nil }) {
			missing = append(missing, field)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("log-based metrics read jsonPayload.%s, which no entry carries; entries: %+v", strings.Join(missing, ", jsonPayload."), entries)
	}
}

// vpclinkLogLines returns a failed route insert as the agent logs it and a
// prune as the reconciler logs it, one JSON line each.
func vpclinkLogLines() []string {
	var buf bytes.Buffer
	agent := logging.NewTo(&buf, zapcore.InfoLevel).With(logging.Component("agent"))
	agent.Warn("route insert failed, retrying", logging.Op("insert"), logging.Instance("vpclink-fwd-x1b2"),
		logging.Route("vpclink-8123456789-1a2b3c4d"), logging.Duration(1200*time.Millisecond),
		logging.Err(errors.New("route vpclink-8123456789-1a2b3c4d: insert: googleapi: Error 403: Quota 'ROUTES' exceeded, QUOTA_EXCEEDED")))
	reconciler := logging.NewTo(&buf, zapcore.InfoLevel).With(logging.Component("reconciler"))
	reconciler.Info("route deleted", logging.Op("delete"), logging.Instance("vpclink-fwd-w9z8"),
		logging.Route("vpclink-8123456780-5e6f7a8b"), logging.Evidence("probe"), logging.Duration(4100*time.Millisecond))
	return strings.Split(strings.TrimSpace(buf.String()), "\n")
}

// logEntry is what the Ops Agent sends for one record: its severity and
// jsonPayload.
type logEntry struct {
	severity string
	payload  map[string]any
}

// logPipeline is the journald pipeline of an Ops Agent config.
type logPipeline struct {
	processors []map[string]any // in pipeline order
}

func loadLogPipeline(t *testing.T, config string) logPipeline {
	t.Helper()
	var cfg struct {
		Logging struct {
			Receivers  map[string]map[string]any `json:"receivers"`
			Processors map[string]map[string]any `json:"processors"`
			Service    struct {
				Pipelines map[string]struct {
					Receivers  []string `json:"receivers"`
					Processors []string `json:"processors"`
				} `json:"pipelines"`
			} `json:"service"`
		} `json:"logging"`
	}
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatalf("Ops Agent config: %v\n%s", err, config)
	}
	for name, p := range cfg.Logging.Service.Pipelines {
		for _, r := range p.Receivers {
			if cfg.Logging.Receivers[r]["type"] != "systemd_journald" {
				continue
			}
			var lp logPipeline
			for _, proc := range p.Processors {
				def, ok := cfg.Logging.Processors[proc]
				if !ok {
					t.Fatalf("pipeline %s: processor %s is not defined", name, proc)
				}
				lp.processors = append(lp.processors, def)
			}
			return lp
		}
	}
	t.Fatalf("no pipeline reads a systemd_journald receiver:\n%s", config)
	return logPipeline{}
}

// excludeRE is the exclude_logs expression the script writes: an equality on
// one quoted journald field, optionally negated.
var excludeRE = regexp.MustCompile(`^(NOT )?jsonPayload\."([A-Z_]+)" = "([^"]*)"$`)

// apply runs one journald record through the pipeline; kept is false when a
// processor drops it.
func (p logPipeline) apply(t *testing.T, record map[string]any) (e logEntry, kept bool) {
	t.Helper()
	rec := map[string]any{}
	for k, v := range record {
		rec[k] = v
	}
	for _, proc := range p.processors {
		switch proc["type"] {
		case "exclude_logs":
			for _, expr := range proc["matches_any"].([]any) {
				m := excludeRE.FindStringSubmatch(expr.(string))
				if m == nil {
					t.Fatalf("exclude_logs expression %q: not a form this test models", expr)
				}
				if (rec[m[2]] == m[3]) != (m[1] == "NOT ") {
					return logEntry{}, false
				}
			}
		case "parse_json":
			field, _ := proc["field"].(string)
			if field == "" {
				field = "message" // the Ops Agent's default Key_Name
			}
			s, ok := rec[field].(string)
			var parsed map[string]any
			if ok && json.Unmarshal([]byte(s), &parsed) == nil {
				rec = parsed
			}
		case "modify_fields":
			for target, spec := range proc["fields"].(map[string]any) {
				from, _ := spec.(map[string]any)["move_from"].(string)
				key, ok := strings.CutPrefix(from, "jsonPayload.")
				if target != "severity" || !ok {
					t.Fatalf("modify_fields %s: %v: not a form this test models", target, spec)
				}
				if s, ok := rec[key].(string); ok {
					e.severity = s
				}
				delete(rec, key)
			}
		default:
			t.Fatalf("processor type %v: not modelled here", proc["type"])
		}
	}
	e.payload = rec
	return e, true
}
