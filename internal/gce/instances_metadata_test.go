package gce_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

func TestSetMetadataQuotesTheFingerprint(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	e.forwarder(t, "fwd-a")
	ctx := context.Background()
	in, err := e.clients.Instances.Get(ctx, project, zone, "fwd-a")
	if err != nil {
		t.Fatal(err)
	}
	if in.Metadata["vpclink-config"] != "routePrefix: vpclink\n" || in.MetadataFingerprint == "" {
		t.Fatalf("Get: metadata %v fingerprint %q; want vpclink-config and a fingerprint", in.Metadata, in.MetadataFingerprint)
	}
	items := map[string]string{"vpclink-config": in.Metadata["vpclink-config"], gce.DrainMetadataKey: "2026-12-03T17:00:00Z by test"}
	if err := e.clients.Instances.SetMetadata(ctx, project, zone, "fwd-a", in.MetadataFingerprint, items); err != nil {
		t.Fatalf("SetMetadata: %v", err)
	}
	after, err := e.clients.Instances.Get(ctx, project, zone, "fwd-a")
	if err != nil {
		t.Fatal(err)
	}
	if after.Metadata[gce.DrainMetadataKey] != items[gce.DrainMetadataKey] || len(after.Metadata) != 2 {
		t.Errorf("after SetMetadata: %v, want %v", after.Metadata, items)
	}
	if after.MetadataFingerprint == in.MetadataFingerprint {
		t.Errorf("fingerprint %q did not change with the metadata", after.MetadataFingerprint)
	}
	// The old fingerprint is stale now: GCE refuses, and says why.
	err = e.clients.Instances.SetMetadata(ctx, project, zone, "fwd-a", in.MetadataFingerprint, map[string]string{})
	if !gce.IsConditionNotMet(err) || !strings.Contains(err.Error(), "instance "+project+"/"+zone+"/fwd-a: setMetadata: ") {
		t.Errorf("SetMetadata with a stale fingerprint: err = %v, want 412 conditionNotMet naming the instance", err)
	}
	if got, _ := e.clients.Instances.Get(ctx, project, zone, "fwd-a"); len(got.Metadata) != 2 {
		t.Errorf("a refused SetMetadata changed the metadata: %v", got.Metadata)
	}
}

func TestIsConditionNotMet(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	e.forwarder(t, "fwd-a")
	e.inject.failNext(http.MethodPost, "/instances/fwd-a/setMetadata", reply{code: http.StatusPreconditionFailed, reason: "conditionNotMet"})
	err := e.clients.Instances.SetMetadata(context.Background(), project, zone, "fwd-a", "whatever", nil)
	if !gce.IsConditionNotMet(err) {
		t.Errorf("412 conditionNotMet: IsConditionNotMet(%v) = false", err)
	}
	if gce.IsConditionNotMet(nil) || gce.IsConditionNotMet(context.Canceled) {
		t.Error("IsConditionNotMet is true for nil or a context error")
	}
}
