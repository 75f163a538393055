package gce_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
)

func TestMetadataIdentityNICsAndConfig(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	// Two instances in one process: each reader must see its own identity,
	// which the library's cached helpers could not do.
	first := e.forwarder(t, "fwd-1")
	second := e.forwarder(t, "fwd-2")
	ctx := context.Background()

	for _, in := range []gcefake.Instance{first, second} {
		md := gce.NewMetadata(in.MetadataHost)
		id, err := md.Identity(ctx)
		if err != nil {
			t.Fatalf("%s: Identity: %v", in.Name, err)
		}
		if id.Name != in.Name || id.ID != instanceid.ID(in.ID) || id.Zone != zone || id.Project != project {
			t.Errorf("Identity = %s/%d/%s/%s, want %s/%d/%s/%s",
				id.Name, id.ID, id.Zone, id.Project, in.Name, in.ID, zone, project)
		}
		if len(id.NICs) != 2 {
			t.Fatalf("%s: %d NICs, want 2", in.Name, len(id.NICs))
		}
		nic1 := id.NICs[1]
		if nic1.Index != 1 || nic1.MAC != in.NICs[1].MAC || nic1.Gateway != in.NICs[1].Gateway ||
			nic1.IP != in.NICs[1].IP || nic1.Subnetmask != in.NICs[1].Subnetmask {
			t.Errorf("%s: NIC 1 = %+v, want %+v", in.Name, nic1, in.NICs[1])
		}
		if !strings.HasSuffix(nic1.Network, "/networks/vpc-b") {
			t.Errorf("%s: NIC 1 network = %q, want .../networks/vpc-b", in.Name, nic1.Network)
		}
		if id.InstanceURL() != hopURL(in.Name) {
			t.Errorf("InstanceURL = %q, want %q", id.InstanceURL(), hopURL(in.Name))
		}

		cfg, found, err := md.Attribute(ctx, "vpclink-config")
		if err != nil || !found || cfg != "routePrefix: vpclink\n" {
			t.Errorf("%s: vpclink-config = %q, %v, %v; want the YAML set on the instance", in.Name, cfg, found, err)
		}
		v, found, err := md.Attribute(ctx, "no-such-key")
		if err != nil || found || v != "" {
			t.Errorf("%s: missing attribute = %q, %v, %v; want not found and no error", in.Name, v, found, err)
		}
	}
}

// WatchAttribute reports the first value, then each change (set, changed,
// removed), through the real library's subscription against the fake.
func TestMetadataWatchAttribute(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	in := e.forwarder(t, "fwd-1")
	md := gce.NewMetadata(in.MetadataHost)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan gce.AttributeValue, 16)
	done := make(chan error, 1)
	go func() {
		done <- md.WatchAttribute(ctx, "vpclink-drain", func(v gce.AttributeValue) { got <- v })
	}()
	next := func(what string) gce.AttributeValue {
		t.Helper()
		select {
		case v := <-got:
			return v
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no value within 5s", what)
		}
		return gce.AttributeValue{}
	}
	if v := next("first read"); v.Err != nil || v.Found {
		t.Errorf("first read = %+v, want not found", v)
	}
	set := func(value string) {
		t.Helper()
		if err := e.fake.SetAttribute(project, zone, in.Name, "vpclink-drain", value); err != nil {
			t.Fatal(err)
		}
	}
	set("by alice at 12:00")
	if v := next("mark set"); v.Err != nil || !v.Found || v.Value != "by alice at 12:00" {
		t.Errorf("after set = %+v", v)
	}
	// Another attribute changing is not a change of this one.
	if err := e.fake.SetAttribute(project, zone, in.Name, "other", "x"); err != nil {
		t.Fatal(err)
	}
	set("")
	if v := next("mark cleared"); v.Err != nil || v.Found {
		t.Errorf("after clear = %+v, want not found", v)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("WatchAttribute returned %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchAttribute did not return after cancel")
	}
	if len(got) != 0 {
		t.Errorf("extra values: %+v", <-got)
	}
}
