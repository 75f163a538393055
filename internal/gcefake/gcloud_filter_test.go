package gcefake

import (
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

// The filters gcloud sends for `--filter` (its filter_rewrite turns = : ~
// into eq with RE2 full matches, \b word boundaries and \-escapes), as seen
// with --log-http, select the same routes as gcloud's own matching would.
func TestGcloudRewrittenFiltersMatchLikeGCE(t *testing.T) {
	s, ts := newFake(t, Options{})
	mustInstance(t, s, "vm-1")
	c := routesClient(t, ts)
	ctx := ctxT(t)
	for _, name := range []string{"r1", "r10", "vpclink-a"} {
		op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: &computepb.Route{
			Name: proto.String(name), Network: proto.String("vpc-a"), DestRange: proto.String("10.9.0.0/16"),
			NextHopInstance: proto.String("zones/" + zoneA + "/instances/vm-1")}})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ gcloud, filter, want string }{
		{"name=r1", `name eq ".*\br1\b.*"`, "r1"},
		{"name~^vpclink", `name eq ".*(^vpclink).*"`, "vpclink-a"},
		{"name=vpclink-a", `name eq ".*\bvpclink\-a\b.*"`, "vpclink-a"},
		{"network:vpc-a", `network eq ".*\bvpc\-a\b.*"`, "r1 r10 vpclink-a"},
		{"destRange=10.9.0.0/16 AND name=r10", `(destRange eq ".*\b10\.9\.0\.0/16\b.*")(name eq ".*\br10\b.*")`, "r10"},
		{"literal", `name = "r1*"`, "r1 r10"},
	} {
		it := c.List(ctx, &computepb.ListRoutesRequest{Project: proj, Filter: proto.String(tc.filter)})
		got := ""
		for {
			r, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				t.Fatalf("%s (%s): %v", tc.gcloud, tc.filter, err)
			}
			if got != "" {
				got += " "
			}
			got += r.GetName()
		}
		if got != tc.want {
			t.Errorf("--filter=%q sent as %s: got %q, want %q", tc.gcloud, tc.filter, got, tc.want)
		}
	}
}
