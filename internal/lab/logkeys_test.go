package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeLog(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The checker itself: a key with two JSON types across the agent's and the
// reconciler's files is found and named with where each type was first seen;
// nested keys count by their path; other files and non-JSON lines are not
// the product's.
func TestLogKeysConflicts(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, "agent-fwd-1-7.log", `{"severity":"INFO","instanceId":"7","op":"announce"}
panic: not JSON
{"severity":"INFO","op":"announce","req":{"code":200}}
`)
	writeLog(t, dir, "reconciler-1.log", `{"severity":"INFO","instanceId":7,"op":"probe"}
{"severity":"INFO","req":{"code":"OK"}}
`)
	writeLog(t, dir, "lab.log", `{"instanceId":true}`)
	k, err := ReadLogKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k.Files() != 2 || k.Lines != 4 || k.Skipped != 1 {
		t.Errorf("files %d lines %d skipped %d, want 2, 4, 1", k.Files(), k.Lines, k.Skipped)
	}
	got := strings.Join(k.Conflicts(), "\n")
	want := "instanceId: number at reconciler-1.log:1, string at agent-fwd-1-7.log:1\n" +
		"req.code: number at agent-fwd-1-7.log:3, string at reconciler-1.log:2"
	if got != want {
		t.Errorf("conflicts:\n%s\nwant:\n%s", got, want)
	}
}

// LabLogsEnv names the log directory of a finished lab run for
// TestLabLogKeys; `make lab-short` sets it after its run.
const LabLogsEnv = "VPCLINK_LAB_LOGS"

// TestLabLogKeys: every key keeps one JSON type across the agent's and the
// reconciler's logs of a real lab run.
func TestLabLogKeys(t *testing.T) {
	dir := os.Getenv(LabLogsEnv)
	if dir == "" {
		t.Skip("no lab run to read: set " + LabLogsEnv + " to a lab's --log-dir (make lab-short does)")
	}
	k, err := ReadLogKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k.Files() == 0 || k.Lines == 0 {
		t.Fatalf("%s: %d files, %d JSON lines: no agent or reconciler log to check", dir, k.Files(), k.Lines)
	}
	for _, c := range k.Conflicts() {
		t.Errorf("key with more than one JSON type: %s", c)
	}
	t.Logf("%s: %d keys in %d JSON lines of %d files (%d other lines)", dir, len(k.Types), k.Lines, k.Files(), k.Skipped)
}
