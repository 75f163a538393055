package agent

import (
	"testing"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// Which routes of another instance id the announce removes as an earlier
// incarnation of this instance: only those that place their instance in
// this project and zone, by marker or by next hop.
func TestEarlierIncarnation(t *testing.T) {
	id := gce.Identity{Name: "fwd-1", Zone: "us-central1-a", Project: "svc-a", ID: 7}
	a := &Agent{opt: Options{Identity: id}, wantedNames: map[string]bool{}}
	hop := func(project, zone, name string) string {
		return "https://www.googleapis.com/compute/v1/projects/" + project + "/zones/" + zone + "/instances/" + name
	}
	tests := []struct {
		name   string
		marker naming.Marker
		hop    string // nextHopInstance
		ip     string // nextHopIp
		stale  bool
	}{
		{"same project, zone and name", naming.Marker{Instance: "fwd-1", Zone: "us-central1-a", Project: "svc-a"},
			hop("svc-a", "us-central1-a", "fwd-1"), "", true},
		{"older marker: no project, next hop says it", naming.Marker{Instance: "fwd-1", Zone: "us-central1-a"},
			hop("svc-a", "us-central1-a", "fwd-1"), "", true},
		{"older marker: neither zone nor project, next hop says both", naming.Marker{Instance: "fwd-1"},
			hop("svc-a", "us-central1-a", "fwd-1"), "", true},
		{"another project's same-named VM (Shared VPC host)", naming.Marker{Instance: "fwd-1", Zone: "us-central1-a", Project: "svc-b"},
			hop("svc-b", "us-central1-a", "fwd-1"), "", false},
		{"older marker, another project by next hop", naming.Marker{Instance: "fwd-1", Zone: "us-central1-a"},
			hop("svc-b", "us-central1-a", "fwd-1"), "", false},
		{"no zone in the marker, next hop in another zone", naming.Marker{Instance: "fwd-1", Project: "svc-a"},
			hop("svc-a", "europe-west1-b", "fwd-1"), "", false},
		{"no zone anywhere (next hop ip)", naming.Marker{Instance: "fwd-1", Project: "svc-a"}, "", "10.0.3.9", false},
		{"nothing but the name (next hop ip)", naming.Marker{Instance: "fwd-1"}, "", "10.0.3.9", false},
		{"marker and next hop disagree", naming.Marker{Instance: "fwd-1", Zone: "us-central1-a", Project: "svc-a"},
			hop("svc-b", "us-central1-a", "fwd-1"), "", false},
		{"another name", naming.Marker{Instance: "fwd-2", Zone: "us-central1-a", Project: "svc-a"},
			hop("svc-a", "us-central1-a", "fwd-2"), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := gce.Route{Name: "vpclink-3-abcdef01", NextHopInstance: tc.hop, NextHopIP: tc.ip,
				Description: tc.marker.Description()}
			p := naming.ParsedName{InstanceID: instanceid.ID(3)}
			if got := a.isStale(p, tc.marker, r); got != tc.stale {
				t.Errorf("isStale = %v, want %v", got, tc.stale)
			}
		})
	}
}
