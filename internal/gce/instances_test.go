package gce_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
)

func TestInstancesListAndGet(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	want := map[string]gcefake.Instance{}
	for _, name := range []string{"fwd-1", "fwd-2"} {
		want[name] = e.forwarder(t, name)
	}
	ctx := context.Background()

	list, err := e.clients.Instances.List(ctx, project, zone)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != len(want) {
		t.Fatalf("List returned %d instances, want %d", len(list), len(want))
	}
	for _, got := range list {
		w, ok := want[got.Name]
		if !ok {
			t.Fatalf("unexpected instance %q", got.Name)
		}
		checkInstance(t, got, w)
	}

	got, err := e.clients.Instances.Get(ctx, project, zone, "fwd-2")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkInstance(t, got, want["fwd-2"])

	_, err = e.clients.Instances.Get(ctx, project, zone, "gone")
	if !gce.IsNotFound(err) {
		t.Fatalf("Get of a missing instance: err = %v, want not found", err)
	}
	if want := "instance " + project + "/" + zone + "/gone: get: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the instance as %q", err, want)
	}
}

func checkInstance(t *testing.T, got gce.Instance, want gcefake.Instance) {
	t.Helper()
	if got.ID != instanceid.ID(want.ID) || got.Zone != zone || got.Status != "RUNNING" {
		t.Errorf("%s: id/zone/status = %d/%s/%s, want %d/%s/RUNNING", got.Name, got.ID, got.Zone, got.Status, want.ID, zone)
	}
	if !strings.HasSuffix(got.SelfLink, "/projects/"+project+"/zones/"+zone+"/instances/"+got.Name) {
		t.Errorf("%s: SelfLink = %q", got.Name, got.SelfLink)
	}
	// GCE's timestamps carry milliseconds; the fake's snapshot has more.
	if got.CreationTimestamp.Sub(want.CreationTimestamp).Abs() > time.Second {
		t.Errorf("%s: CreationTimestamp = %v, want %v", got.Name, got.CreationTimestamp, want.CreationTimestamp)
	}
	if len(got.NICs) != len(want.NICs) {
		t.Fatalf("%s: %d NICs, want %d", got.Name, len(got.NICs), len(want.NICs))
	}
	for i, nic := range got.NICs {
		if nic.Index != i || nic.IP != want.NICs[i].IP ||
			!strings.HasSuffix(nic.Network, "/projects/"+project+"/global/networks/"+want.NICs[i].Network) {
			t.Errorf("%s: NIC %d = %+v, want index %d ip %s network %s", got.Name, i, nic, i, want.NICs[i].IP, want.NICs[i].Network)
		}
	}
}
