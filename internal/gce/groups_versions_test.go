package gce_test

import (
	"context"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

func TestGroupTemplatesAndCreateInstances(t *testing.T) {
	const (
		t1 = "projects/" + project + "/global/instanceTemplates/fwd-1"
		t2 = "projects/" + project + "/global/instanceTemplates/fwd-2"
	)
	for _, g := range []gce.GroupRef{
		{Project: project, Name: "fwd", Zone: zone},
		{Project: project, Name: "fwd-r", Region: "us-central1"},
	} {
		t.Run(g.String(), func(t *testing.T) {
			e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(20 * time.Millisecond)})
			if err := e.fake.CreateGroup(gcefake.GroupSpec{
				Project: g.Project, Name: g.Name, Zone: g.Zone, Region: g.Region, TargetSize: 2, NICs: fwdNICs,
				InstanceTemplate: t1, // OPPORTUNISTIC by default
			}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			waitMembers(t, e, g, 2)
			got, err := e.clients.Groups.Get(ctx, g)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if cur, ok := got.CurrentTemplate(); !ok || !gce.SameTemplate(cur, t1) || got.TargetSize != 2 || got.UpdatePolicy.Type != "OPPORTUNISTIC" {
				t.Errorf("Get: %+v; want template %s, target size 2, OPPORTUNISTIC", got, t1)
			}

			if err := e.clients.Groups.SetInstanceTemplate(ctx, g, t2); err != nil {
				t.Fatalf("SetInstanceTemplate: %v", err)
			}
			if got, err = e.clients.Groups.Get(ctx, g); err != nil {
				t.Fatal(err)
			}
			if cur, _ := got.CurrentTemplate(); !gce.SameTemplate(cur, t2) {
				t.Errorf("after SetInstanceTemplate the current template is %q, want %s", cur, t2)
			}
			if err := e.clients.Groups.CreateInstances(ctx, g, []string{g.Name + "-surge1"}); err != nil {
				t.Fatalf("CreateInstances: %v", err)
			}
			ms := waitMembers(t, e, g, 3)
			for _, m := range ms {
				want := t1 // OPPORTUNISTIC: the members there stay on their template
				if m.Name == g.Name+"-surge1" {
					want = t2
				}
				if !gce.SameTemplate(m.Template, want) {
					t.Errorf("member %s on %q, want %s", m.Name, m.Template, want)
				}
			}
			if got, _ := e.clients.Groups.Get(ctx, g); got.TargetSize != 3 {
				t.Errorf("target size %d after CreateInstances, want 3", got.TargetSize)
			}
		})
	}
}
