package gcefake

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
)

// gcloudGroups creates a zonal group "fwd" (2 members) in zoneA, a zonal
// group "fwdc" (1) in us-central1-c and a regional group "rfwd" (2) over
// zones a and b, the layout the gcloud tests use.
func gcloudGroups(t *testing.T, s *Server) {
	t.Helper()
	for _, spec := range []GroupSpec{
		{Project: proj, Name: "fwd", Zone: zoneA, TargetSize: 2, NICs: twoNICs},
		{Project: proj, Name: "fwdc", Zone: "us-central1-c", TargetSize: 1, NICs: twoNICs},
		{Project: proj, Name: "rfwd", Region: "us-central1", Zones: []string{zoneA, "us-central1-b"}, TargetSize: 2, NICs: twoNICs},
	} {
		if err := s.CreateGroup(spec); err != nil {
			t.Fatalf("CreateGroup %s: %v", spec.Name, err)
		}
	}
}

// newClient builds a real apiv1 REST client with one of its constructors.
func newClient[C interface{ Close() error }](t *testing.T, opts []option.ClientOption, ctor func(context.Context, ...option.ClientOption) (C, error)) C {
	t.Helper()
	c, err := ctor(context.Background(), opts...)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// scopeSummary turns an aggregated list into "scope: name name" or
// "scope: NO_RESULTS_ON_PAGE" lines, sorted.
func scopeSummary(pairs map[string][]string) []string {
	var out []string
	for scope, names := range pairs {
		line := scope + ":"
		for _, n := range names {
			line += " " + n
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
		}
	}
}

// migAggregated reads instanceGroupManagers.aggregatedList through the real
// client with page size max (0: default), keeping every scope's entries.
func migAggregated(t *testing.T, c *compute.InstanceGroupManagersClient, max uint32, filter string) map[string][]string {
	t.Helper()
	req := &computepb.AggregatedListInstanceGroupManagersRequest{Project: proj}
	if max > 0 {
		req.MaxResults = proto.Uint32(max)
	}
	if filter != "" {
		req.Filter = proto.String(filter)
	}
	got := map[string][]string{}
	it := c.AggregatedList(ctxT(t), req)
	for {
		pair, err := it.Next()
		if err == iterator.Done {
			return got
		}
		if err != nil {
			t.Fatalf("aggregatedList: %v", err)
		}
		if w := pair.Value.GetWarning(); w != nil {
			if w.GetCode() != "NO_RESULTS_ON_PAGE" || w.GetData()[0].GetValue() != pair.Key ||
				w.GetMessage() != "There are no results for scope '"+pair.Key+"' on this page." {
				t.Fatalf("scope %s: warning %v", pair.Key, w)
			}
			if _, seen := got[pair.Key]; !seen {
				got[pair.Key] = nil
			}
			continue
		}
		for _, m := range pair.Value.GetInstanceGroupManagers() {
			got[pair.Key] = append(got[pair.Key], m.GetName())
		}
	}
}

func TestMIGAggregatedListKeysGroupsByScopeAndWarnsForEmptyScopes(t *testing.T) {
	s, ts := newFake(t, Options{})
	gcloudGroups(t, s)
	mustInstance(t, s, "lone") // a zone with no group still is a known scope
	if _, err := s.CreateInstance(InstanceSpec{Project: proj, Zone: "us-east1-b", Name: "far", NICs: twoNICs}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, clientOpts(ts), compute.NewInstanceGroupManagersRESTClient)

	want := []string{
		"regions/us-central1: rfwd",
		"regions/us-east1:",
		"zones/us-central1-a: fwd",
		"zones/us-central1-b:",
		"zones/us-central1-c: fwdc",
		"zones/us-central1-f:",
		"zones/us-east1-b:",
	}
	equalLines(t, "one page", scopeSummary(migAggregated(t, c, 0, "")), want)
	// One group per page: each page warns for every scope without a group
	// on it, and every group still appears exactly once.
	equalLines(t, "pages of one", scopeSummary(migAggregated(t, c, 1, "")), want)
	equalLines(t, "filtered", scopeSummary(migAggregated(t, c, 0, `name eq "fwd.*"`)), []string{
		"regions/us-central1:",
		"regions/us-east1:",
		"zones/us-central1-a: fwd",
		"zones/us-central1-b:",
		"zones/us-central1-c: fwdc",
		"zones/us-central1-f:",
		"zones/us-east1-b:",
	})
}

func TestMIGListsMatchGetPerScope(t *testing.T) {
	s, ts := newFake(t, Options{})
	gcloudGroups(t, s)
	ctx := ctxT(t)
	zonal := newClient(t, clientOpts(ts), compute.NewInstanceGroupManagersRESTClient)
	regional := newClient(t, clientOpts(ts), compute.NewRegionInstanceGroupManagersRESTClient)

	it := zonal.List(ctx, &computepb.ListInstanceGroupManagersRequest{Project: proj, Zone: zoneA})
	m, err := it.Next()
	if err != nil {
		t.Fatalf("zonal list: %v", err)
	}
	if _, err := it.Next(); err != iterator.Done {
		t.Fatalf("zonal list of %s: more than fwd (%v)", zoneA, err)
	}
	get, err := zonal.Get(ctx, &computepb.GetInstanceGroupManagerRequest{Project: proj, Zone: zoneA, InstanceGroupManager: "fwd"})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m, get) {
		t.Fatalf("list item differs from get:\n list %v\n  get %v", m, get)
	}

	rit := regional.List(ctx, &computepb.ListRegionInstanceGroupManagersRequest{Project: proj, Region: "us-central1"})
	rm, err := rit.Next()
	if err != nil || rm.GetName() != "rfwd" || rm.GetTargetSize() != 2 || len(rm.GetDistributionPolicy().GetZones()) != 2 {
		t.Fatalf("regional list: %v %v", rm, err)
	}
	if _, err := rit.Next(); err != iterator.Done {
		t.Fatalf("regional list: more than rfwd (%v)", err)
	}
}

func TestInstanceGroupListsGiveMIGSizes(t *testing.T) {
	s, ts := newFake(t, Options{})
	gcloudGroups(t, s)
	ctx := ctxT(t)
	zonal := newClient(t, clientOpts(ts), compute.NewInstanceGroupsRESTClient)
	regional := newClient(t, clientOpts(ts), compute.NewRegionInstanceGroupsRESTClient)

	g, err := zonal.List(ctx, &computepb.ListInstanceGroupsRequest{Project: proj, Zone: "us-central1-c"}).Next()
	if err != nil || g.GetName() != "fwdc" || g.GetSize() != 1 ||
		g.GetSelfLink() != apiBase+"projects/"+proj+"/zones/us-central1-c/instanceGroups/fwdc" {
		t.Fatalf("zonal instance group: %v %v", g, err)
	}
	rg, err := regional.List(ctx, &computepb.ListRegionInstanceGroupsRequest{Project: proj, Region: "us-central1"}).Next()
	if err != nil || rg.GetName() != "rfwd" || rg.GetSize() != 2 || rg.GetRegion() != regionURL(proj, "us-central1") {
		t.Fatalf("regional instance group: %v %v", rg, err)
	}
}

func TestAutoscalerListsAreEmpty(t *testing.T) {
	s, ts := newFake(t, Options{})
	gcloudGroups(t, s)
	ctx := ctxT(t)
	zonal := newClient(t, clientOpts(ts), compute.NewAutoscalersRESTClient)
	regional := newClient(t, clientOpts(ts), compute.NewRegionAutoscalersRESTClient)

	if a, err := zonal.List(ctx, &computepb.ListAutoscalersRequest{Project: proj, Zone: zoneA}).Next(); err != iterator.Done {
		t.Fatalf("zonal autoscalers: %v %v, want none", a, err)
	}
	if a, err := regional.List(ctx, &computepb.ListRegionAutoscalersRequest{Project: proj, Region: "us-central1"}).Next(); err != iterator.Done {
		t.Fatalf("regional autoscalers: %v %v, want none", a, err)
	}
	var scopes []string
	it := zonal.AggregatedList(ctx, &computepb.AggregatedListAutoscalersRequest{Project: proj})
	for {
		pair, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(pair.Value.GetAutoscalers()) != 0 || pair.Value.GetWarning().GetCode() != "NO_RESULTS_ON_PAGE" {
			t.Fatalf("scope %s: %v", pair.Key, pair.Value)
		}
		scopes = append(scopes, pair.Key)
	}
	sort.Strings(scopes)
	equalLines(t, "autoscaler scopes", scopes, baseScopes)
}

// An empty project's aggregated lists still have items: the base scopes,
// each with the warning (gcloud fails on a response without items).
func TestAggregatedListsOfAnEmptyProjectHaveItems(t *testing.T) {
	_, ts := newFake(t, Options{})
	for _, kind := range []string{"instances", "instanceGroupManagers", "autoscalers", "operations"} {
		resp, err := http.Get(ts.URL + "/compute/v1/projects/empty/aggregated/" + kind)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Items map[string]struct {
				Warning struct {
					Code string `json:"code"`
				} `json:"warning"`
			} `json:"items"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", kind, resp.StatusCode, err)
		}
		want := len(baseScopes)
		if kind == "operations" {
			want++ // global
		}
		if len(body.Items) != want {
			t.Fatalf("%s: items %v, want the %d base scopes", kind, body.Items, want)
		}
		for scope, v := range body.Items {
			if v.Warning.Code != "NO_RESULTS_ON_PAGE" {
				t.Fatalf("%s: scope %s without the warning", kind, scope)
			}
		}
	}
}
