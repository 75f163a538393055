package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestJSONWithSeverity(t *testing.T) {
	var buf bytes.Buffer
	log := NewTo(&buf, zapcore.DebugLevel)
	log.Warn("route deleted", zap.String("op", "delete"), zap.String("route", "vpclink-1-abcdef12"))
	log.Error("insert failed")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per event, got %q", buf.String())
	}
	for i, want := range []string{"WARNING", "ERROR"} {
		var ev map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		if ev["severity"] != want {
			t.Errorf("line %d severity = %v, want %s", i, ev["severity"], want)
		}
	}
}
