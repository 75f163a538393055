package gcefake

import (
	"context"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/compute/metadata"
	"google.golang.org/protobuf/proto"
)

// setMetadata needs the current fingerprint; the instance's metadata server
// tells a waiting reader (the real client's Subscribe, which uses
// wait_for_change and last_etag) about the change.
func TestSetMetadataFingerprintAndWaitForChange(t *testing.T) {
	s, ts := newFake(t, Options{OpLatency: Fixed(50 * time.Millisecond)})
	in, err := s.CreateInstance(InstanceSpec{Project: proj, Zone: zoneA, Name: "fwd-1", NICs: twoNICs,
		Metadata: map[string]string{"vpclink-config": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GCE_METADATA_HOST", in.MetadataHost)
	md := metadata.NewClient(&http.Client{})
	ctx := ctxT(t)

	seen := make(chan string, 4)
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// The client's Subscribe needs the path to exist at first: watch
		// the attributes directory, as an agent waiting for a key does.
		_ = md.SubscribeWithContext(subCtx, "instance/attributes/", func(_ context.Context, v string, ok bool) error {
			seen <- v
			return nil
		})
	}()
	if v := <-seen; v != "vpclink-config\n" {
		t.Fatalf("first attributes listing: %q", v)
	}

	c := instancesClient(t, ts)
	got, err := c.Get(ctx, &computepb.GetInstanceRequest{Project: proj, Zone: zoneA, Instance: "fwd-1"})
	if err != nil {
		t.Fatal(err)
	}
	fp := got.GetMetadata().GetFingerprint()
	if fp == "" || got.GetLastStartTimestamp() == "" || got.GetCreationTimestamp() == "" {
		t.Errorf("instance: fingerprint %q lastStartTimestamp %q creationTimestamp %q, want all set", fp, got.GetLastStartTimestamp(), got.GetCreationTimestamp())
	}
	items := []*computepb.Items{{Key: proto.String("vpclink-config"), Value: proto.String("x")},
		{Key: proto.String("vpclink-drain"), Value: proto.String("2026-01-01T00:00:00Z by ops")}}
	set := func(fp string) error {
		op, err := c.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: proj, Zone: zoneA, Instance: "fwd-1",
			MetadataResource: &computepb.Metadata{Fingerprint: proto.String(fp), Items: items}})
		if err != nil {
			return err
		}
		return op.Wait(ctx)
	}
	if err := set(fp); err != nil {
		t.Fatalf("setMetadata with the current fingerprint: %v", err)
	}
	select {
	case v := <-seen:
		if v != "vpclink-config\nvpclink-drain\n" {
			t.Errorf("watcher saw %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait_for_change watcher did not see the new value")
	}
	if err := set(fp); apiErr(t, err).Code != http.StatusPreconditionFailed || reasonOf(apiErr(t, err)) != "conditionNotMet" {
		t.Errorf("setMetadata with a stale fingerprint: %v, want 412 conditionNotMet", err)
	}
}

// wait_for_change with timeout_sec answers the unchanged value when the
// time is up, with its ETag; a last_etag that differs answers at once.
func TestMetadataWaitForChangeTimeoutAndETag(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, Options{})
	in := mustInstance(t, s, "fwd-1")
	get := func(query string) (*http.Response, time.Duration) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+in.MetadataHost+"/computeMetadata/v1/instance/attributes/?"+query, nil)
		req.Header.Set("Metadata-Flavor", "Google")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp, time.Since(start)
	}
	resp, _ := get("")
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag header")
	}
	if resp, d := get("wait_for_change=true&timeout_sec=1&last_etag=" + etag); d < time.Second || resp.Header.Get("ETag") != etag {
		t.Errorf("wait with the current etag returned after %v with etag %q, want after 1s with %q", d, resp.Header.Get("ETag"), etag)
	}
	if _, d := get("wait_for_change=true&timeout_sec=5&last_etag=stale"); d > time.Second {
		t.Errorf("wait with a stale etag took %v, want at once", d)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = s.SetAttribute(proj, zoneA, "fwd-1", "k", "v")
	}()
	if resp, d := get("wait_for_change=true&timeout_sec=5&last_etag=" + etag); d > 3*time.Second || resp.Header.Get("ETag") == etag {
		t.Errorf("wait across a change returned after %v with etag %q, want soon with a new etag", d, resp.Header.Get("ETag"))
	}
}
