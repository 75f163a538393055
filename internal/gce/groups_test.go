package gce_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
)

var fwdNICs = []gcefake.NICSpec{
	{Network: "vpc-a", Subnet: "10.0.0.0/24"},
	{Network: "vpc-b", Subnet: "10.19.16.0/20"},
}

func TestGroupsZonalAndRegional(t *testing.T) {
	for _, g := range []gce.GroupRef{
		{Project: project, Name: "fwd", Zone: zone},
		{Project: project, Name: "fwd-r", Region: "us-central1"},
	} {
		t.Run(g.String(), func(t *testing.T) {
			e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(50 * time.Millisecond)})
			if err := e.fake.CreateGroup(gcefake.GroupSpec{
				Project: g.Project, Name: g.Name, Zone: g.Zone, Region: g.Region, TargetSize: 3, NICs: fwdNICs,
			}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			members := waitMembers(t, e, g, 3)
			byName := map[string]gcefake.Instance{}
			for _, in := range e.fake.Instances() {
				byName[in.Name] = in
			}
			zones := map[string]bool{}
			for _, mi := range members {
				in, ok := byName[mi.Name]
				if !ok || mi.ID != instanceid.ID(in.ID) || mi.Zone != in.Zone || mi.Status != "RUNNING" || mi.CurrentAction != "NONE" ||
					mi.URL != hopURLIn(in.Zone, in.Name) {
					t.Errorf("managed instance %+v does not match fake instance %+v", mi, in)
				}
				zones[mi.Zone] = true
			}
			if g.Region != "" && len(zones) != 3 {
				t.Errorf("regional group spread over zones %v, want 3 zones", zones)
			}

			// Recreate: same name, new incarnation (id).
			victim := members[0]
			if err := e.clients.Groups.RecreateInstances(ctx, g, []string{victim.URL}); err != nil {
				t.Fatalf("RecreateInstances: %v", err)
			}
			waitFor(t, e, g, "recreated "+victim.Name, func(ms []gce.ManagedInstance) bool {
				i := slices.IndexFunc(ms, func(m gce.ManagedInstance) bool { return m.Name == victim.Name })
				return i >= 0 && ms[i].ID != victim.ID && ms[i].Status == "RUNNING"
			})

			// Delete one: it leaves and the group does not replace it.
			gone := members[1]
			if err := e.clients.Groups.DeleteInstances(ctx, g, []string{gone.URL}); err != nil {
				t.Fatalf("DeleteInstances: %v", err)
			}
			waitFor(t, e, g, "deleted "+gone.Name, func(ms []gce.ManagedInstance) bool {
				return len(ms) == 2 && !slices.ContainsFunc(ms, func(m gce.ManagedInstance) bool { return m.Name == gone.Name })
			})

			if err := e.clients.Groups.Resize(ctx, g, 4); err != nil {
				t.Fatalf("Resize: %v", err)
			}
			waitMembers(t, e, g, 4)

			// A bad request names the group and is not retried into success.
			err := e.clients.Groups.DeleteInstances(ctx, g, []string{hopURL("not-a-member")})
			if err == nil || gce.IsTransient(err) || !strings.Contains(err.Error(), "group "+g.String()+": deleteInstances: ") {
				t.Errorf("DeleteInstances of a non-member: err = %v (kind %s)", err, gce.Classify(err))
			}
		})
	}
}

func TestGroupsMissingGroupIsNotFound(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	g := gce.GroupRef{Project: project, Name: "nope", Zone: zone}
	_, err := e.clients.Groups.ListManagedInstances(context.Background(), g)
	if !gce.IsNotFound(err) {
		t.Fatalf("err = %v, want not found", err)
	}
	if want := "group " + project + "/" + zone + "/nope: listManagedInstances: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the group as %q", err, want)
	}
	bad := gce.GroupRef{Project: project, Name: "both", Zone: zone, Region: "us-central1"}
	if err := e.clients.Groups.Resize(context.Background(), bad, 1); err == nil {
		t.Error("Resize of a group with both zone and region: want an error")
	}
}

func hopURLIn(z, name string) string {
	return "https://www.googleapis.com/compute/v1/projects/" + project + "/zones/" + z + "/instances/" + name
}

// waitMembers waits until the group lists n RUNNING members with no action.
func waitMembers(t *testing.T, e *env, g gce.GroupRef, n int) []gce.ManagedInstance {
	t.Helper()
	return waitFor(t, e, g, "group size", func(ms []gce.ManagedInstance) bool {
		if len(ms) != n {
			return false
		}
		for _, m := range ms {
			if m.Status != "RUNNING" || m.CurrentAction != "NONE" {
				return false
			}
		}
		return true
	})
}

// waitFor lists the group until ok holds (the MIG acts after its operation
// is DONE, asynchronously) or 10 s pass.
func waitFor(t *testing.T, e *env, g gce.GroupRef, what string, ok func([]gce.ManagedInstance) bool) []gce.ManagedInstance {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms, err := e.clients.Groups.ListManagedInstances(context.Background(), g)
		if err != nil {
			t.Fatalf("ListManagedInstances: %v", err)
		}
		if ok(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: gave up waiting; last list %+v", what, ms)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
