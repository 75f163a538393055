package gcefake

import (
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
)

func TestOperationListsByScopeAndAggregated(t *testing.T) {
	s, ts := newFake(t, Options{OpLatency: Fixed(time.Hour)})
	gcloudGroups(t, s)
	mustInstance(t, s, "vm-1")
	ctx := ctxT(t)
	routes := routesClient(t, ts)
	migs := newClient(t, clientOpts(ts), compute.NewInstanceGroupManagersRESTClient)
	rmigs := newClient(t, clientOpts(ts), compute.NewRegionInstanceGroupManagersRESTClient)

	insert, err := routes.Insert(ctx, &computepb.InsertRouteRequest{Project: proj, RouteResource: &computepb.Route{
		Name: proto.String("r1"), Network: proto.String("vpc-a"), DestRange: proto.String("10.9.0.0/16"),
		NextHopInstance: proto.String("zones/" + zoneA + "/instances/vm-1")}})
	if err != nil {
		t.Fatal(err)
	}
	resize, err := migs.Resize(ctx, &computepb.ResizeInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd", Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	rresize, err := rmigs.Resize(ctx, &computepb.ResizeRegionInstanceGroupManagerRequest{Project: proj, Region: "us-central1", InstanceGroupManager: "rfwd", Size: 1})
	if err != nil {
		t.Fatal(err)
	}

	// Aggregated: each operation under its scope, still RUNNING or PENDING
	// (an hour of latency), the other known scopes with the warning.
	got := map[string][]string{}
	agg := newClient(t, clientOpts(ts), compute.NewGlobalOperationsRESTClient)
	it := agg.AggregatedList(ctx, &computepb.AggregatedListGlobalOperationsRequest{Project: proj})
	for {
		pair, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[pair.Key] = nil
		for _, op := range pair.Value.GetOperations() {
			if op.GetStatus() == computepb.Operation_DONE {
				t.Errorf("%s: DONE before its latency", op.GetName())
			}
			got[pair.Key] = append(got[pair.Key], op.GetName())
		}
		if len(pair.Value.GetOperations()) == 0 && pair.Value.GetWarning().GetCode() != "NO_RESULTS_ON_PAGE" {
			t.Errorf("scope %s: neither operations nor warning", pair.Key)
		}
	}
	equalLines(t, "aggregated operations", scopeSummary(got), []string{
		"global: " + insert.Name(),
		"regions/us-central1: " + rresize.Name(),
		"zones/us-central1-a: " + resize.Name(),
		"zones/us-central1-b:",
		"zones/us-central1-c:",
		"zones/us-central1-f:",
	})

	// Per scope: the global list holds the insert only, the zone's list the
	// resize only, the region's the regional resize.
	names := func(it interface {
		Next() (*computepb.Operation, error)
	}) []string {
		var out []string
		for {
			op, err := it.Next()
			if err == iterator.Done {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, op.GetName())
		}
	}
	zops := newClient(t, clientOpts(ts), compute.NewZoneOperationsRESTClient)
	rops := newClient(t, clientOpts(ts), compute.NewRegionOperationsRESTClient)
	equalLines(t, "global operations", names(agg.List(ctx, &computepb.ListGlobalOperationsRequest{Project: proj})), []string{insert.Name()})
	equalLines(t, "zone operations", names(zops.List(ctx, &computepb.ListZoneOperationsRequest{Project: proj, Zone: zoneA})), []string{resize.Name()})
	equalLines(t, "region operations", names(rops.List(ctx, &computepb.ListRegionOperationsRequest{Project: proj, Region: "us-central1"})), []string{rresize.Name()})
	if n := names(zops.List(ctx, &computepb.ListZoneOperationsRequest{Project: proj, Zone: zoneA, Filter: proto.String("status = DONE")})); len(n) != 0 {
		t.Fatalf("status = DONE filter: %v, want none", n)
	}
}
