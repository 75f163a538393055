package routeplan

import (
	"testing"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/naming"
)

// TestScope: a group is (project, zone or region, name); another
// deployment's routes are never judged, whatever their group's name.
func TestScope(t *testing.T) {
	route := func(id, dest string, m naming.Marker, hop string) gce.Route {
		r := routeFor(id+" "+dest, nil)
		r.Description = m.Description()
		r.NextHopInstance, r.NextHopIP = "", ""
		if isIP(hop) {
			r.NextHopIP = hop
		} else {
			r.NextHopInstance = hop
		}
		return r
	}
	hop := func(project, zone, name string) string {
		return "https://www.googleapis.com/compute/v1/projects/" + project + "/zones/" + zone + "/instances/" + name
	}
	cases := []struct {
		name  string
		route gce.Route
		want  []string
	}{
		{"same group name, another region", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: "europe-west1-b", Group: "fwd", Project: project}, hop(project, "europe-west1-b", "x")), nil},
		{"same group name and zone, another project (Shared VPC)", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: zone, Group: "fwd", Project: "service-2"}, hop("service-2", zone, "x")), nil},
		{"older marker: next hop in another project", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: zone, Group: "fwd"}, hop("service-2", zone, "x")), nil},
		{"older marker: next hop in another region", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: "europe-west1-b", Group: "fwd"}, hop(project, "europe-west1-b", "x")), nil},
		{"older marker: next hop by IP cannot be placed", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: zone, Group: "fwd"}, "10.0.0.9"), nil},
		{"ours: project, zone and group match", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: zone, Group: "fwd", Project: project}, hop(project, zone, "x")),
			[]string{"delete 9 10.19.16.0/20 api"}},
		{"ours, older marker placed by its next hop", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: zone, Group: "fwd"}, hop(project, zone, "x")),
			[]string{"delete 9 10.19.16.0/20 api"}},
		{"regional group: a zone of its region", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: "us-central1-f", Group: "rfwd", Project: project}, hop(project, "us-central1-f", "x")),
			[]string{"delete 9 10.19.16.0/20 api"}},
		{"regional group: a zone of another region", route("9", "10.19.16.0/20",
			naming.Marker{Instance: "x", Zone: "us-east1-b", Group: "rfwd", Project: project}, hop(project, "us-east1-b", "x")), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := baseConfig()
			cfg.Groups = append(cfg.Groups, config.Group{Name: "rfwd", Region: "us-central1"})
			in := build(cfg, []fw{{name: "a", id: 1, verdict: Healthy}}, nil)
			in.Routes = append(in.Routes, c.route)
			check(t, Compute(in), c.want, false)
		})
	}
}

// TestUnreadGroupIsNotJudged: a group whose member list could not be read
// has no members this pass; its routes must not look gone.
func TestUnreadGroupIsNotJudged(t *testing.T) {
	fws := []fw{{name: "a", id: 1, verdict: Healthy}, {group: "fwd2", name: "b", id: 2, status: "TERMINATED"}}
	in := build(baseConfig(), fws, []string{"1 10.19.16.0/20", "2 10.19.16.0/20", "9 10.19.16.0/20 x group=fwd2 zone=z2"})
	var members []Member
	for _, m := range in.Members {
		if m.Group != "fwd2" {
			members = append(members, m)
		}
	}
	in.Members, in.Unread = members, []string{"fwd2"}
	check(t, Compute(in), nil, false)
}
