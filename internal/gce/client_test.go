package gce_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

// The production path (no endpoint) must assemble: Application Default
// Credentials wrapped around the retrying transport. No request is sent.
func TestNewClientsProductionPathUsesDefaultCredentials(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(creds, []byte(`{"type":"authorized_user","client_id":"id","client_secret":"secret","refresh_token":"token"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", creds)
	t.Setenv(gce.EndpointEnv, "")
	c, err := gce.NewClients(context.Background(), gce.ClientOptions{})
	if err != nil {
		t.Fatalf("NewClients with default credentials: %v", err)
	}
	if c.Routes == nil || c.Instances == nil || c.Groups == nil {
		t.Fatalf("NewClients returned %+v, want all three APIs", c)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	if _, err := gce.NewClients(context.Background(), gce.ClientOptions{}); err == nil {
		t.Error("NewClients with an unreadable credentials file: want an error")
	}
}

// VPCLINK_COMPUTE_ENDPOINT alone points the client at the fake, without
// credentials (none exist in this process's environment).
func TestEndpointFromEnvironment(t *testing.T) {
	fake := gcefake.New(gcefake.Options{})
	defer fake.Close()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	t.Setenv(gce.EndpointEnv, srv.URL+"/")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	c, err := gce.NewClients(context.Background(), gce.ClientOptions{})
	if err != nil {
		t.Fatalf("NewClients: %v", err)
	}
	defer c.Close()
	if _, err := c.Routes.List(context.Background(), project, "vpclink-"); err != nil {
		t.Fatalf("List through the env endpoint: %v", err)
	}
	if n := fake.RequestCounts()["routes.list"]; n != 1 {
		t.Errorf("fake saw %d lists, want 1", n)
	}
}
