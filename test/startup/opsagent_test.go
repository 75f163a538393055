package startup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// slowInstaller stands in for Google's add-google-cloud-ops-agent-repo.sh
// --also-install, which without NAT can take minutes (apt retries): it
// blocks until the test lets it go (or 30 s pass, then fails), then does what
// the package install does that the startup script notices: the Ops Agent's
// directory and an enabled google-cloud-ops-agent.service.
const slowInstaller = `#!/bin/bash
set -eu
touch "$SYSTEMCTL_STATE/installer.started"
for _ in $(seq 300); do
	[ -e "$SYSTEMCTL_STATE/installer.go" ] && break
	sleep 0.1
done
[ -e "$SYSTEMCTL_STATE/installer.go" ] || exit 1
mkdir -p "$VPCLINK_ROOT/etc/google-cloud-ops-agent"
systemctl enable google-cloud-ops-agent
`

// A first boot without the Ops Agent: the unit is installed and started, and
// the script exits, while the Ops Agent's installer is still running; the
// installer then finishes in the background and the Ops Agent is configured
// and restarted after it. Autohealing counts from 120-180 s after creation,
// so nothing slow may come before the unit.
func TestUnitStartsBeforeASlowOpsAgentInstall(t *testing.T) {
	v := newVM(t)
	bin := fakeBinary("v1")
	v.env = append(v.env, "VPCLINK_OPS_AGENT_REPO_SCRIPT="+v.releases.publish("/add-google-cloud-ops-agent-repo.sh", []byte(slowInstaller)))
	v.md.set(
		"vpclink-binary-url", v.releases.publish("/vpclink/v1/vpclink", bin),
		"vpclink-binary-sha256", sha256Hex(bin),
		"vpclink-unit", repoFile(t, "systemd/"+agentUnit),
		"vpclink-ops-agent", "true",
		"vpclink-metrics-job", "vpclink-agent",
		"vpclink-metrics-port", "9780",
	)
	release := func() { os.WriteFile(filepath.Join(v.state, "installer.go"), nil, 0o644) }
	work := filepath.Join(v.root, "var/lib/vpclink-startup/ops-agent")
	t.Cleanup(func() {
		release() // never leave the installer behind
		waitFor(t, 35*time.Second, func() bool { _, err := os.Stat(work); return os.IsNotExist(err) })
	})

	res := v.ok("daemon-reload", "enable "+agentUnit, "restart --no-block "+agentUnit)
	if !strings.Contains(res.output, "installing the Ops Agent in the background") {
		t.Errorf("the script does not say the Ops Agent installs in the background:\n%s", res.output)
	}
	if got := v.file("/etc/google-cloud-ops-agent/config.yaml"); got != "" {
		t.Fatalf("the Ops Agent was configured before its installer finished:\n%s", got)
	}

	t.Log("the installer finishes after the script: the Ops Agent is configured then")
	waitFor(t, 5*time.Second, func() bool { _, err := os.Stat(filepath.Join(v.state, "installer.started")); return err == nil })
	release()
	waitFor(t, 30*time.Second, func() bool { _, err := os.Stat(work); return os.IsNotExist(err) })
	if got := v.file("/etc/google-cloud-ops-agent/config.yaml"); !strings.Contains(got, "job_name: vpclink-agent") {
		t.Errorf("Ops Agent config after the background install:\n%s", got)
	}
	calls := v.allCalls()
	unitAt := slices.Index(calls, "restart --no-block "+agentUnit)
	enableAt := slices.Index(calls, "enable google-cloud-ops-agent")
	restartAt := slices.Index(calls, "restart google-cloud-ops-agent")
	if unitAt < 0 || enableAt < unitAt || restartAt < enableAt {
		t.Errorf("want the unit started, then the Ops Agent installed, then restarted with its config; systemctl calls:\n  %s",
			strings.Join(calls, "\n  "))
	}
	if log := v.file("/var/log/vpclink-ops-agent-install.log"); !strings.Contains(log, "Ops Agent installed and configured") {
		t.Errorf("install log:\n%s", log)
	}

	t.Log("reboot: the Ops Agent is there now, nothing runs in the background")
	v.ok("start --no-block " + agentUnit)
}

// waitFor polls cond every 50 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
