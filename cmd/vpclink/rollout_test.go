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

func TestRolloutDryRunListsOutdatedMembers(t *testing.T) {
	fake := gcefake.New(gcefake.Options{OpLatency: gcefake.Fixed(10 * time.Millisecond)})
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { srv.Close(); fake.Close() })
	t.Setenv("VPCLINK_COMPUTE_ENDPOINT", srv.URL+"/")
	if err := fake.CreateGroup(gcefake.GroupSpec{Project: cliProject, Name: "fwd", Zone: cliZone, TargetSize: 2,
		InstanceTemplate: "fwd-1", NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}}); err != nil {
		t.Fatal(err)
	}
	clients, err := gce.NewClients(t.Context(), gce.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = clients.Close() }()
	g := gce.GroupRef{Project: cliProject, Name: "fwd", Zone: cliZone}
	if err := clients.Groups.SetInstanceTemplate(t.Context(), g, "projects/"+cliProject+"/global/instanceTemplates/fwd-2"); err != nil {
		t.Fatal(err)
	}
	members, err := clients.Groups.ListManagedInstances(t.Context(), g)
	if err != nil || len(members) != 2 {
		t.Fatalf("members %+v, %v", members, err)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"rollout", "fwd", "--dry-run", "--project", cliProject, "--zone", cliZone}, &stdout, &stderr); code != exitOK {
		t.Fatalf("rollout --dry-run: exit %d\n%s", code, stderr.String())
	}
	for _, m := range members {
		if !strings.Contains(stdout.String(), "replace  "+m.Name) {
			t.Errorf("dry run does not list %s for replacement:\n%s", m.Name, stdout.String())
		}
	}
	if !strings.Contains(stdout.String(), "2 to replace, 0 current, 0 leaving") {
		t.Errorf("dry run lacks its summary:\n%s", stdout.String())
	}
	after, _ := clients.Groups.ListManagedInstances(t.Context(), g)
	if len(after) != 2 || fake.RequestCounts()["instanceGroupManagers.createInstances"] != 0 {
		t.Errorf("a dry run changed the group: %+v", after)
	}

	for _, args := range [][]string{
		{"rollout", "fwd", "--project", cliProject, "--zone", cliZone, "--region", "us-central1"},
		{"rollout", "--project", cliProject, "--zone", cliZone},
		{"rollout", "fwd", "--project", cliProject, "--zone", cliZone, "--timeout", "0s"},
	} {
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("vpclink %v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code := run([]string{"rollout", "nope", "--dry-run", "--project", cliProject, "--zone", cliZone}, &stdout, &stderr); code != exitFailure {
		t.Errorf("rollout of a missing group: exit %d, want %d", code, exitFailure)
	}
}
