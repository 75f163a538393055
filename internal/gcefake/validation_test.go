package gcefake

import (
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// Inserts, lists and filters are validated the way GCE answers them.
func TestValidationLikeGCE(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "fwd-1") // vpc-a 10.0.1.0/24, vpc-b 10.19.16.0/20
	c := routesClient(t, ts)
	ctx := ctxT(t)
	insert := func(r *computepb.Route) error {
		_, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: r})
		return err
	}
	// A destRange equal to or inside a subnet of its network hides it.
	for _, dest := range []string{"10.0.1.0/24", "10.0.1.7/32"} {
		err := insert(testRoute("hides", dest))
		ge := apiErr(t, err)
		want := "Invalid value for field 'resource.destRange': '" + dest + "'. " + dest + " hides the address space of the network (10.0.1.0/24)."
		if ge.Code != http.StatusBadRequest || reasonOf(ge) != "invalid" || !strings.HasPrefix(ge.Message, want) {
			t.Errorf("destRange %s: %d %q %q, want 400 invalid %q", dest, ge.Code, reasonOf(ge), ge.Message, want)
		}
	}
	// A broader range than the subnet is fine; so is a subnet of another network.
	if err := insert(testRoute("broad", "10.0.0.0/16")); err != nil {
		t.Errorf("destRange broader than a subnet: %v", err)
	}
	if err := insert(testRoute("other-net", "10.19.16.0/20")); err != nil {
		t.Errorf("destRange of another network's subnet: %v", err)
	}
	// An unknown network is not found.
	r := testRoute("nowhere", "10.50.0.0/16")
	r.Network = proto.String("vpc-zz")
	if ge := apiErr(t, insert(r)); ge.Code != http.StatusNotFound || !strings.Contains(ge.Message, "projects/proj-a/global/networks/vpc-zz") {
		t.Errorf("unknown network: %d %q, want 404 naming the network", ge.Code, ge.Message)
	}
	// maxResults above 500 and filters on unknown fields are rejected.
	_, err := c.List(ctx, &computepb.ListRoutesRequest{Project: proj, MaxResults: proto.Uint32(501)}).Next()
	if ge := apiErr(t, err); ge.Code != http.StatusBadRequest || !strings.Contains(ge.Message, "maxResults") {
		t.Errorf("maxResults 501: %v, want 400", err)
	}
	_, err = c.List(ctx, &computepb.ListRoutesRequest{Project: proj, Filter: proto.String(`colour eq "red"`)}).Next()
	if ge := apiErr(t, err); ge.Code != http.StatusBadRequest || !strings.Contains(ge.Message, "filter") {
		t.Errorf("filter on an unknown field: %v, want 400", err)
	}
	it := c.List(ctx, &computepb.ListRoutesRequest{Project: proj, MaxResults: proto.Uint32(500), Filter: proto.String(`name eq "broad"`)})
	if r, err := it.Next(); err != nil || r.GetName() != "broad" {
		t.Errorf("valid list: %v, %v", r, err)
	} else if _, err := it.Next(); err != iterator.Done {
		t.Errorf("valid list: more than one route (%v)", err)
	}
}

// A next hop without canIpForward: the route exists with warning
// NEXT_HOP_CANNOT_IP_FORWARD and carries no traffic.
func TestNextHopWithoutIPForwarding(t *testing.T) {
	s, ts := newFake(t, Options{})
	if _, err := s.CreateInstance(InstanceSpec{Project: proj, Zone: zoneA, Name: "fwd-1", NICs: twoNICs, NoIPForward: true}); err != nil {
		t.Fatal(err)
	}
	c := routesClient(t, ts)
	ctx := ctxT(t)
	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: testRoute("r0", "10.19.16.0/20")})
	if err != nil || op.Wait(ctx) != nil {
		t.Fatalf("insert via an instance without IP forwarding: %v", err)
	}
	got, err := c.Get(ctx, &computepb.GetRouteRequest{Project: proj, Route: "r0"})
	if err != nil || len(got.GetWarnings()) != 1 || got.GetWarnings()[0].GetCode() != "NEXT_HOP_CANNOT_IP_FORWARD" {
		t.Errorf("route: %v, %v; want warning NEXT_HOP_CANNOT_IP_FORWARD", got.GetWarnings(), err)
	}
	if n := len(s.EffectiveRoutes()); n != 0 {
		t.Errorf("%d effective routes via an instance without IP forwarding, want 0", n)
	}
	ic := instancesClient(t, ts)
	in, err := ic.Get(ctx, &computepb.GetInstanceRequest{Project: proj, Zone: zoneA, Instance: "fwd-1"})
	if err != nil || in.GetCanIpForward() {
		t.Errorf("instance canIpForward %v, %v; want false", in.GetCanIpForward(), err)
	}
}
