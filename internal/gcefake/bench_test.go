package gcefake

import (
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// BenchmarkListRoutes10k lists 10,000 routes with a name filter through the
// real apiv1 REST client: 20 pages of 500, client and server both in
// process, so ns/op and allocs/op cover encode, HTTP and decode.
func BenchmarkListRoutes10k(b *testing.B) {
	s, ts := newFake(b, Options{})
	mustInstance(b, s, "fwd-1")
	seedRoutes(s, "vpclink", 10000)
	c := routesClient(b, ts)
	ctx := ctxT(b)
	b.ReportAllocs()
	for b.Loop() {
		it := c.List(ctx, &computepb.ListRoutesRequest{Project: proj, Filter: proto.String(`name eq "vpclink-.*"`)})
		n := 0
		for {
			_, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 10000 {
			b.Fatalf("listed %d routes, want 10000", n)
		}
	}
}
