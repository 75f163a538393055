package main

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

// drainEnv is a fake Compute API with one standalone forwarder, fwd-a.
func drainEnv(t *testing.T) {
	t.Helper()
	fake := gcefake.New(gcefake.Options{OpLatency: gcefake.Fixed(10 * time.Millisecond)})
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { srv.Close(); fake.Close() })
	t.Setenv("VPCLINK_COMPUTE_ENDPOINT", srv.URL+"/")
	if _, err := fake.CreateInstance(gcefake.InstanceSpec{Project: cliProject, Zone: cliZone, Name: "fwd-a",
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}}); err != nil {
		t.Fatal(err)
	}
}

func TestDrainUndrainExitCodesAndIdempotence(t *testing.T) {
	drainEnv(t)
	loc := []string{"--project", cliProject, "--zone", cliZone}
	cases := []struct {
		args   []string
		code   int
		out    string
		marked bool
	}{
		{append([]string{"drain", "fwd-a", "--grace", "0", "--by", "ops@test"}, loc...), exitOK, `marked vpclink-drain="`, true},
		{append([]string{"drain", "fwd-a", "--grace", "0", "--by", "someone@else"}, loc...), exitOK, "already marked", true},
		{append([]string{"undrain", "fwd-a"}, loc...), exitOK, "undrained fwd-a", false},
		{append([]string{"undrain", "fwd-a"}, loc...), exitOK, "fwd-a was not drained", false},
		{append([]string{"drain", "no-such-vm", "--grace", "0"}, loc...), exitFailure, "", false},
		{append([]string{"undrain", "no-such-vm"}, loc...), exitFailure, "", false},
		{append([]string{"drain"}, loc...), exitUsage, "", false},
		{append([]string{"undrain", "a", "b"}, loc...), exitUsage, "", false},
		{append([]string{"undrain", "fwd-a", "--wait", "-1s"}, loc...), exitUsage, "", false},
		{[]string{"undrain", "fwd-a", "--project", cliProject, "--zone", ""}, exitUsage, "", false},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		if got := run(c.args, &stdout, &stderr); got != c.code {
			t.Errorf("vpclink %v: exit %d, want %d\nstdout %s\nstderr %s", c.args, got, c.code, stdout.String(), stderr.String())
			continue
		}
		if !strings.Contains(stdout.String(), c.out) {
			t.Errorf("vpclink %v: stdout lacks %q:\n%s", c.args, c.out, stdout.String())
		}
		if c.code != exitOK {
			continue
		}
		md := instanceMetadata(t, "fwd-a")
		if v, ok := md[gce.DrainMetadataKey]; ok != c.marked || (ok && !strings.HasSuffix(v, " by ops@test")) {
			t.Errorf("after vpclink %v: mark %q (set %v), want set %v by ops@test", c.args, v, ok, c.marked)
		}
	}
}

// instanceMetadata reads the instance's metadata through the real client.
func instanceMetadata(t *testing.T, name string) map[string]string {
	t.Helper()
	clients, err := gce.NewClients(t.Context(), gce.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = clients.Close() }()
	got, err := clients.Instances.Get(t.Context(), cliProject, cliZone, name)
	if err != nil {
		t.Fatal(err)
	}
	return got.Metadata
}
