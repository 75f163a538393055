package startup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	agentUnit      = "vpclink-agent.service"
	reconcilerUnit = "vpclink-reconciler.service"
	binPath        = "/usr/local/bin/vpclink"
)

// A forwarder's life: first boot installs everything and restarts the unit;
// a reboot with nothing new writes nothing and only ensures the unit is
// started; a new unit or a new pinned binary restarts it; a binary that does
// not match the pinned digest is refused and changes nothing.
func TestForwarderBootsAndReboots(t *testing.T) {
	v := newVM(t)
	v1 := fakeBinary("v1")
	unit := repoFile(t, "systemd/"+agentUnit)
	v.md.set(
		"vpclink-binary-url", v.releases.publish("/vpclink/v1/vpclink", v1),
		"vpclink-binary-sha256", strings.ToUpper(sha256Hex(v1)), // hex digits of either case
		"vpclink-unit", unit,
		"vpclink-ops-agent", "false",
	)

	t.Log("first boot: install, reload, enable, restart")
	v.ok("daemon-reload", "enable "+agentUnit, "restart --no-block "+agentUnit)
	if got := v.file(binPath); got != string(v1) {
		t.Errorf("%s = %q, want the v1 binary", binPath, got)
	}
	if m := v.mode(binPath); m != 0o755 {
		t.Errorf("%s mode %v, want 0755", binPath, m)
	}
	if got := v.file("/etc/systemd/system/" + agentUnit); got != unit {
		t.Errorf("installed unit differs from the vpclink-unit attribute:\n%s", got)
	}
	if m := v.mode("/etc/systemd/system/" + agentUnit); m != 0o644 {
		t.Errorf("unit mode %v, want 0644", m)
	}
	if got := v.file("/etc/google-cloud-ops-agent/config.yaml"); got != "" {
		t.Errorf("vpclink-ops-agent=false, but an Ops Agent config was written:\n%s", got)
	}
	if n := v.releases.downloadCount(); n != 1 {
		t.Errorf("downloads after first boot = %d, want 1", n)
	}

	t.Log("reboot, nothing new: no download, no write, start only")
	before := v.snapshot()
	v.ok("start --no-block " + agentUnit)
	if after := v.snapshot(); after != before {
		t.Errorf("a re-run with nothing new changed files:\nbefore:\n%safter:\n%s", before, after)
	}
	if n := v.releases.downloadCount(); n != 1 {
		t.Errorf("downloads after a reboot = %d, want still 1 (the installed binary has the pinned digest)", n)
	}

	t.Log("changed unit: reload and restart")
	changed := unit + "# changed\n"
	v.md.set("vpclink-unit", changed)
	v.ok("daemon-reload", "restart --no-block "+agentUnit)
	if got := v.file("/etc/systemd/system/" + agentUnit); got != changed {
		t.Errorf("unit not updated:\n%s", got)
	}

	t.Log("new pinned binary: download and restart, no reload")
	v2 := fakeBinary("v2")
	v.md.set(
		"vpclink-binary-url", v.releases.publish("/vpclink/v2/vpclink", v2),
		"vpclink-binary-sha256", sha256Hex(v2),
	)
	v.ok("restart --no-block " + agentUnit)
	if got := v.file(binPath); got != string(v2) {
		t.Errorf("%s = %q, want the v2 binary", binPath, got)
	}

	t.Log("binary not matching the pinned digest: refused")
	v3 := fakeBinary("v3")
	v.md.set(
		"vpclink-binary-url", v.releases.publish("/vpclink/v3/vpclink", v3),
		"vpclink-binary-sha256", sha256Hex([]byte("something else")),
	)
	before = v.snapshot()
	res := v.run()
	if res.exit == 0 {
		t.Fatalf("wrong sha256 accepted; output:\n%s", res.output)
	}
	for _, want := range []string{"vpclink-binary-sha256 mismatch", sha256Hex(v3), "refusing"} {
		if !strings.Contains(res.output, want) {
			t.Errorf("refusal does not say %q:\n%s", want, res.output)
		}
	}
	if len(res.calls) != 0 {
		t.Errorf("systemctl called after a refused binary: %q", res.calls)
	}
	if after := v.snapshot(); after != before {
		t.Errorf("a refused binary changed files:\nbefore:\n%safter:\n%s", before, after)
	}
}

// The reconciler's VM: the config comes from vpclink-config into a file,
// binary URL and digest from project attributes, and the Ops Agent scrapes
// the reconciler's port. A changed config restarts the reconciler; a changed
// metrics port restarts only the Ops Agent.
func TestReconcilerConfigAndOpsAgent(t *testing.T) {
	v := newVM(t)
	bin := fakeBinary("v1")
	v.md.setProject(
		"vpclink-binary-url", v.releases.publish("/vpclink/v1/vpclink", bin),
		"vpclink-binary-sha256", sha256Hex(bin),
	)
	unit := repoFile(t, "systemd/"+reconcilerUnit)
	config := "project: p\nroutePrefix: vpclink\n"
	v.md.set(
		"vpclink-unit-name", reconcilerUnit,
		"vpclink-unit", unit,
		"vpclink-config-path", "/etc/vpclink/reconciler.yaml",
		"vpclink-config", config,
		"vpclink-ops-agent", "true",
		"vpclink-metrics-job", "vpclink-reconciler",
		"vpclink-metrics-port", "9781",
	)
	// The Ops Agent is already installed and enabled (the image has it), so
	// its installer, which needs the internet, is not run.
	if err := os.MkdirAll(filepath.Join(v.root, "etc/google-cloud-ops-agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.state, "google-cloud-ops-agent.enabled"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	// The unit first, then the Ops Agent: nothing slow may delay /healthz.
	v.ok("daemon-reload", "enable "+reconcilerUnit, "restart --no-block "+reconcilerUnit, "restart google-cloud-ops-agent")
	if got := v.file(binPath); got != string(bin) {
		t.Errorf("%s = %q, want the binary from the project attribute's URL", binPath, got)
	}
	if got := v.file("/etc/systemd/system/" + reconcilerUnit); got != unit {
		t.Errorf("installed unit differs from vpclink-unit:\n%s", got)
	}
	if got := v.file("/etc/systemd/system/" + agentUnit); got != "" {
		t.Errorf("the agent unit was installed on a reconciler VM")
	}
	if got := v.file("/etc/vpclink/reconciler.yaml"); got != config {
		t.Errorf("reconciler.yaml = %q, want %q", got, config)
	}
	if m := v.mode("/etc/vpclink/reconciler.yaml"); m != 0o644 {
		t.Errorf("reconciler.yaml mode %v, want 0644 (the unit's dynamic user reads it)", m)
	}
	ops := v.file("/etc/google-cloud-ops-agent/config.yaml")
	for _, want := range []string{"job_name: vpclink-reconciler", `targets: ["localhost:9781"]`, "type: systemd_journald", "move_from: jsonPayload.severity",
		`NOT jsonPayload."_SYSTEMD_UNIT" = "vpclink-reconciler.service"`} {
		if !strings.Contains(ops, want) {
			t.Errorf("Ops Agent config lacks %q:\n%s", want, ops)
		}
	}

	before := v.snapshot()
	v.ok("start --no-block " + reconcilerUnit)
	if after := v.snapshot(); after != before {
		t.Errorf("a re-run with nothing new changed files:\nbefore:\n%safter:\n%s", before, after)
	}

	t.Log("changed config: restart the reconciler only")
	config2 := config + "minHealthyFraction: 0.6\n"
	v.md.set("vpclink-config", config2)
	v.ok("restart --no-block " + reconcilerUnit)
	if got := v.file("/etc/vpclink/reconciler.yaml"); got != config2 {
		t.Errorf("reconciler.yaml = %q, want %q", got, config2)
	}

	t.Log("changed metrics port: restart the Ops Agent only")
	v.md.set("vpclink-metrics-port", "9791")
	v.ok("start --no-block "+reconcilerUnit, "restart google-cloud-ops-agent")
	if ops := v.file("/etc/google-cloud-ops-agent/config.yaml"); !strings.Contains(ops, `"localhost:9791"`) {
		t.Errorf("Ops Agent config not updated:\n%s", ops)
	}
}

// Without a pinned digest the installed binary is kept across reboots, even
// if the object behind the URL changed; a new URL installs anew. An empty
// instance attribute overrides a project attribute of the same name.
func TestUnpinnedBinaryFollowsTheURL(t *testing.T) {
	v := newVM(t)
	v1 := fakeBinary("v1")
	url := v.releases.publish("/vpclink/latest/vpclink", v1)
	v.md.setProject("vpclink-binary-sha256", sha256Hex([]byte("a project-wide pin this VM opts out of")))
	v.md.set(
		"vpclink-binary-url", url,
		"vpclink-binary-sha256", "",
		"vpclink-unit", repoFile(t, "systemd/"+agentUnit),
	)
	v.ok("daemon-reload", "enable "+agentUnit, "restart --no-block "+agentUnit)

	v.releases.publish("/vpclink/latest/vpclink", fakeBinary("v2"))
	v.ok("start --no-block " + agentUnit)
	if got := v.file(binPath); got != string(v1) {
		t.Errorf("unpinned binary replaced on reboot: %q", got)
	}
	if n := v.releases.downloadCount(); n != 1 {
		t.Errorf("downloads = %d, want 1 (same URL, no digest: keep the installed binary)", n)
	}

	v3 := fakeBinary("v3")
	v.md.set("vpclink-binary-url", v.releases.publish("/vpclink/v3/vpclink", v3))
	v.ok("restart --no-block " + agentUnit)
	if got := v.file(binPath); got != string(v3) {
		t.Errorf("%s = %q after a new URL, want v3", binPath, got)
	}
}

// Bad or missing settings stop the script with a message naming the
// attribute, before anything is installed or started. Each case has a
// working binary at its URL, so a refusal after staging it (a missing unit)
// proves that the staged binary is not left behind either.
func TestRefusesBadSettings(t *testing.T) {
	good := fakeBinary("v1")
	tests := []struct {
		name  string
		attrs map[string]string // instance attributes over a working set; "-" deletes
		fail  map[string]int    // attribute -> HTTP status the metadata server answers
		want  string
	}{
		{name: "malformed digest", attrs: map[string]string{"vpclink-binary-sha256": "abc123"},
			want: "vpclink-binary-sha256: 'abc123' is not a hex SHA-256"},
		{name: "unit name with a path", attrs: map[string]string{"vpclink-unit-name": "../../tmp/x.service"},
			want: "vpclink-unit-name: '../../tmp/x.service'"},
		{name: "unit name not a service", attrs: map[string]string{"vpclink-unit-name": "vpclink.timer"},
			want: "vpclink-unit-name: 'vpclink.timer'"},
		{name: "config path without config", attrs: map[string]string{"vpclink-config-path": "/etc/vpclink/reconciler.yaml"},
			want: "vpclink-config-path is /etc/vpclink/reconciler.yaml but vpclink-config is unset"},
		{name: "relative config path", attrs: map[string]string{"vpclink-config-path": "etc/x.yaml", "vpclink-config": "a: 1\n"},
			want: "vpclink-config-path: 'etc/x.yaml': want an absolute path"},
		{name: "plain http", attrs: map[string]string{"vpclink-binary-url": "http://127.0.0.1:1/vpclink", "vpclink-binary-sha256": "-"},
			want: "vpclink-binary-url: http://127.0.0.1:1/vpclink: want https:// or gs://"},
		{name: "gs:// without a service account", attrs: map[string]string{"vpclink-binary-url": "gs://releases/vpclink/v1/vpclink", "vpclink-binary-sha256": "-"},
			want: "no service account token to read gs://releases/vpclink/v1/vpclink"},
		{name: "no binary anywhere", attrs: map[string]string{"vpclink-binary-url": "-", "vpclink-binary-sha256": "-"},
			want: "no binary: set vpclink-binary-url"},
		{name: "no unit anywhere", attrs: map[string]string{"vpclink-unit": "-"},
			want: "no unit: set vpclink-unit"},
		{name: "binary that does not run", attrs: map[string]string{"vpclink-binary-url": "/broken", "vpclink-binary-sha256": "-"},
			want: "is not a working vpclink binary"},
		{name: "metadata server error is not an unset attribute", fail: map[string]int{"vpclink-config-path": 403},
			want: "instance/attributes/vpclink-config-path: HTTP 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVM(t)
			v.md.set(
				"vpclink-binary-url", v.releases.publish("/vpclink", good),
				"vpclink-binary-sha256", sha256Hex(good),
				"vpclink-unit", "[Unit]\n",
			)
			broken := v.releases.publish("/broken", []byte("#!/bin/sh\nexit 3\n"))
			for k, val := range tt.attrs {
				switch val {
				case "-":
					v.md.unset(k)
				case "/broken":
					v.md.set(k, broken)
				default:
					v.md.set(k, val)
				}
			}
			for k, status := range tt.fail {
				v.md.failWith(k, status)
			}

			res := v.run()
			if res.exit != 1 {
				t.Errorf("exit %d, want 1", res.exit)
			}
			if !strings.Contains(res.output, "vpclink-startup: ") || !strings.Contains(res.output, tt.want) {
				t.Errorf("output does not say %q:\n%s", tt.want, res.output)
			}
			if len(res.calls) != 0 {
				t.Errorf("systemctl called: %q", res.calls)
			}
			if files := v.files(); len(files) != 0 {
				t.Errorf("files left in the install root despite the refusal: %q", files)
			}
		})
	}
}
