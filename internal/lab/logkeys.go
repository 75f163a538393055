package lab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LogKeys is what the product's logs of a lab run say about their keys: for
// every key (nested keys as parent.child), the JSON types it was written
// with and where each type was first seen. Cloud Logging indexes jsonPayload
// fields by name, and a key that is a string in one line and a number in
// the next breaks the log-based metrics and every query on it.
type LogKeys struct {
	Lines   int                          // JSON lines read
	Skipped int                          // lines that were not a JSON object
	Types   map[string]map[string]string // key -> JSON type -> first file:line
	files   map[string]struct{}
}

// productLogs are the files of a lab's log directory that the product wrote:
// every agent's and every reconciler run's stderr.
var productLogs = []string{"agent-*.log", "reconciler-*.log"}

// ReadLogKeys reads the agent and reconciler logs in dir.
func ReadLogKeys(dir string) (LogKeys, error) {
	k := LogKeys{Types: map[string]map[string]string{}, files: map[string]struct{}{}}
	for _, pattern := range productLogs {
		paths, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return k, err
		}
		for _, p := range paths {
			if err := k.readFile(p); err != nil {
				return k, err
			}
		}
	}
	return k, nil
}

func (k *LogKeys) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("log %s: %w", path, err)
	}
	defer f.Close()
	k.files[path] = struct{}{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for n := 1; sc.Scan(); n++ {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			k.Skipped++
			continue
		}
		k.Lines++
		k.add("", line, fmt.Sprintf("%s:%d", filepath.Base(path), n))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("log %s: %w", path, err)
	}
	return nil
}

func (k *LogKeys) add(prefix string, obj map[string]any, where string) {
	for key, v := range obj {
		name := prefix + key
		typ := jsonType(v)
		if k.Types[name] == nil {
			k.Types[name] = map[string]string{}
		}
		if _, ok := k.Types[name][typ]; !ok {
			k.Types[name][typ] = where
		}
		if sub, ok := v.(map[string]any); ok {
			k.add(name+".", sub, where)
		}
	}
}

// jsonType names the JSON type of a value encoding/json decoded.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// Files is how many log files were read.
func (k LogKeys) Files() int { return len(k.files) }

// Conflicts lists, sorted, every key written with more than one JSON type,
// each type with the first line that used it.
func (k LogKeys) Conflicts() []string {
	var out []string
	for key, types := range k.Types {
		if len(types) < 2 {
			continue
		}
		var seen []string
		for typ, where := range types {
			seen = append(seen, typ+" at "+where)
		}
		sort.Strings(seen)
		out = append(out, fmt.Sprintf("%s: %s", key, strings.Join(seen, ", ")))
	}
	sort.Strings(out)
	return out
}
