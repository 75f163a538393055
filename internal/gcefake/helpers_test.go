package gcefake

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

const (
	proj  = "proj-a"
	zoneA = "us-central1-a"
)

// newFake starts a fake and an HTTP server for it; both stop with the test.
// A fake shares nothing with another, so tests that mostly wait on simulated
// latency call t.Parallel and wait together; those using t.Setenv cannot.
func newFake(t testing.TB, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// clientOpts points a real apiv1 REST client at ts without credentials.
func clientOpts(ts *httptest.Server) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(ts.URL),
		option.WithoutAuthentication(),
		option.WithHTTPClient(ts.Client()),
	}
}

func routesClient(t testing.TB, ts *httptest.Server) *compute.RoutesClient {
	t.Helper()
	c, err := compute.NewRoutesRESTClient(context.Background(), clientOpts(ts)...)
	if err != nil {
		t.Fatalf("NewRoutesRESTClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func instancesClient(t testing.TB, ts *httptest.Server) *compute.InstancesClient {
	t.Helper()
	c, err := compute.NewInstancesRESTClient(context.Background(), clientOpts(ts)...)
	if err != nil {
		t.Fatalf("NewInstancesRESTClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ctxT returns a context that ends with the test or after 10 s.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// apiErr returns the googleapi.Error inside err, failing the test if none.
func apiErr(t testing.TB, err error) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a googleapi.Error", err, err)
	}
	return ge
}

// reasonOf returns the first errors[].reason of a googleapi.Error.
func reasonOf(ge *googleapi.Error) string {
	if len(ge.Errors) == 0 {
		return ""
	}
	return ge.Errors[0].Reason
}

// eventually polls cond every 10 ms until it holds or 5 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// twoNICs is a forwarder's NIC layout: nic0 on vpc-a, nic1 on vpc-b.
var twoNICs = []NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}, {Network: "vpc-b", Subnet: "10.19.16.0/20"}}

func mustInstance(t testing.TB, s *Server, name string) Instance {
	t.Helper()
	in, err := s.CreateInstance(InstanceSpec{Project: proj, Zone: zoneA, Name: name, NICs: twoNICs})
	if err != nil {
		t.Fatalf("CreateInstance %s: %v", name, err)
	}
	return in
}
