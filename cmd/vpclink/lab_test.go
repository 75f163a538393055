package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

func TestLabDrainRolloutUsage(t *testing.T) {
	t.Setenv("CLOUDSDK_CORE_PROJECT", "")
	t.Setenv("CLOUDSDK_COMPUTE_ZONE", "")
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"lab", "--scenario", "scale-0-1,nope"}, exitUsage, `--scenario "nope"`},
		{[]string{"lab", "--forwarders", "0"}, exitUsage, "--forwarders 0"},
		{[]string{"lab", "--op-latency", "-1s"}, exitUsage, "latency -1s: want 0 <= MIN <= MAX"},
		{[]string{"lab", "--op-latency", "20s..5s"}, exitUsage, "latency 20s..5s"},
		{[]string{"lab", "--boot-delay", "-1s"}, exitUsage, "--boot-delay -1s: must not be negative"},
		{[]string{"lab", "--profile", "aws"}, exitUsage, `--profile "aws": unknown (known: fast, gce)`},
		{[]string{"lab", "--design", "ilb,bgp"}, exitUsage, `design "bgp": unknown`},
		{[]string{"lab", "--help"}, exitOK, "panic-api-faults"},
		{[]string{"drain"}, exitUsage, "exactly one INSTANCE"},
		{[]string{"drain", "fwd-1", "--project", "p"}, exitUsage, "--zone: required"},
		{[]string{"drain", "fwd-1", "--zone", "z"}, exitUsage, "--project: required"},
		{[]string{"drain", "--project", "p", "--zone", "z", "fwd-1", "--route-prefix", "Bad"}, exitUsage, "--route-prefix"},
		{[]string{"drain", "--help"}, exitOK, "--grace"},
		{[]string{"rollout", "fwd", "--project", "p"}, exitUsage, "exactly one is required"},
		{[]string{"rollout", "fwd", "--project", "p", "--zone", "z", "--region", "r"}, exitUsage, "exactly one is required"},
		{[]string{"rollout", "fwd", "--project", "p", "--zone", "z", "--probe-port", "70000"}, exitUsage, "--probe-port 70000"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		if got := run(c.args, &stdout, &stderr); got != c.code {
			t.Errorf("vpclink %v: exit %d, want %d (stderr %q)", c.args, got, c.code, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("vpclink %v: stderr %q lacks %q", c.args, stderr.String(), c.msg)
		}
	}
}

// vpclink drain against the fake through VPCLINK_COMPUTE_ENDPOINT, as an
// operator would run it against GCE.
func TestDrainCommand(t *testing.T) {
	fake := gcefake.New(gcefake.Options{OpLatency: gcefake.Fixed(20 * time.Millisecond)})
	srv := httptest.NewServer(fake)
	defer func() { srv.Close(); fake.Close() }()
	t.Setenv(gce.EndpointEnv, srv.URL+"/")
	inst, err := fake.CreateInstance(gcefake.InstanceSpec{Project: "p", Zone: "z-a", Name: "fwd-1",
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}})
	if err != nil {
		t.Fatal(err)
	}
	clients, err := gce.NewClients(context.Background(), gce.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer clients.Close()
	route := gce.Route{
		Name: naming.RouteName("vpclink", instanceid.ID(inst.ID), "p", "vpc-a", "10.19.16.0/20"), Project: "p", Network: "vpc-a",
		DestRange: "10.19.16.0/20", Priority: 900,
		NextHopInstance: gce.Identity{Project: "p", Zone: "z-a", Name: "fwd-1"}.InstanceURL(),
		Description:     naming.Marker{Instance: "fwd-1", Zone: "z-a", Group: "fwd"}.Description(),
	}
	if err := clients.Routes.Insert(context.Background(), route); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"drain", "fwd-1", "--project", "p", "--zone", "z-a", "--grace", "10ms"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("drain: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "drained fwd-1: 1 routes withdrawn") {
		t.Errorf("drain output:\n%s", stdout.String())
	}
	if rs := fake.Routes("p"); len(rs) != 0 {
		t.Errorf("%d routes left after drain", len(rs))
	}
}
