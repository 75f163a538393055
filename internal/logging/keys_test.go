package logging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// productDirs are the packages whose lines reach Cloud Logging from the
// agent and the reconciler, and so the log-based metrics.
var productDirs = []string{
	"../agent", "../dataplane", "../reconciler", "../health", "../gce", "../rollout",
	"../kernel", "../policy", "../routeplan", "../config", "../../cmd/vpclink",
}

// lab.go and fakegce.go log for the lab and the fake, not for production.
var notProduct = map[string]bool{"lab.go": true, "fakegce.go": true}

var rawField = regexp.MustCompile(`\bzap\.(String|Strings|Stringer|Int|Int64|Uint64|Float64|Bool|Duration|Time|Error|NamedError|Any|Reflect)\(`)

// TestKeysGoThroughHelpers keeps every key of the product's logs behind one
// helper in this package, so that a key has one meaning and one JSON type
// (and errors always land under "err", the key the alerts filter on).
func TestKeysGoThroughHelpers(t *testing.T) {
	for _, dir := range productDirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || notProduct[filepath.Base(f)] {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(src), "\n") {
				if m := rawField.FindString(line); m != "" {
					t.Errorf("%s:%d: %s...): write log keys through the helpers in internal/logging", f, i+1, m)
				}
			}
		}
	}
}
