package agent

import (
	"strings"
	"testing"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/naming"
)

var testIdentity = gce.Identity{
	Project: "proj", Zone: "us-central1-a", Name: "fwd-1", ID: 4242,
	NICs: []gce.MetadataNIC{
		{Index: 0, MAC: "42:01:0a:00:01:05", IP: "10.0.1.5", Gateway: "10.0.1.1", Network: "projects/123/networks/vpc-a"},
		{Index: 1, MAC: "42:01:0a:00:03:05", IP: "10.0.3.5", Gateway: "10.0.3.1", Network: "projects/123/networks/vpc-b"},
	},
}

func prio(p uint32) *uint32 { return &p }

func TestWantedRoutes(t *testing.T) {
	cfg := config.Agent{RoutePrefix: "vpclink", Routes: []config.RouteSpec{
		{Network: "vpc-a", DestRanges: []string{"10.19.16.0/20", "10.19.32.0/20"}, Priority: prio(900), Tags: []string{"t1"}},
		{Network: "https://www.googleapis.com/compute/v1/projects/host/global/networks/vpc-b", Project: "host",
			DestRanges: []string{"10.0.0.0/16"}, NextHop: config.NextHopIP},
	}}
	routes, err := WantedRoutes(cfg, testIdentity, "fwd", "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, strings.Join([]string{r.Name, r.Project, naming.NetworkName(r.Network), r.DestRange,
			strings.Join(r.Tags, ","), r.NextHopInstance + r.NextHopIP, r.Description}, " | "))
	}
	want := []string{
		naming.RouteName("vpclink", 4242, "proj", "vpc-a", "10.19.16.0/20") + " | proj | vpc-a | 10.19.16.0/20 | t1 | " + testIdentity.InstanceURL() + " | vpclink:v1 instance=fwd-1 zone=us-central1-a group=fwd project=proj agent=v1.2.3",
		naming.RouteName("vpclink", 4242, "proj", "vpc-a", "10.19.32.0/20") + " | proj | vpc-a | 10.19.32.0/20 | t1 | " + testIdentity.InstanceURL() + " | vpclink:v1 instance=fwd-1 zone=us-central1-a group=fwd project=proj agent=v1.2.3",
		naming.RouteName("vpclink", 4242, "host", "vpc-b", "10.0.0.0/16") + " | host | vpc-b | 10.0.0.0/16 |  | 10.0.3.5 | vpclink:v1 instance=fwd-1 zone=us-central1-a group=fwd project=proj agent=v1.2.3",
	}
	// WantedRoutes sorts by name.
	wantSorted := map[string]bool{}
	for _, w := range want {
		wantSorted[w] = true
	}
	if len(got) != len(want) {
		t.Fatalf("got %d routes, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, g := range got {
		if !wantSorted[g] {
			t.Errorf("unexpected route:\n%s\nwant one of:\n%s", g, strings.Join(want, "\n"))
		}
		if i > 0 && routes[i-1].Name >= routes[i].Name {
			t.Errorf("routes not sorted by name: %s before %s", routes[i-1].Name, routes[i].Name)
		}
	}
	for _, r := range routes {
		if r.Priority != 900 {
			t.Errorf("route %s: priority %d, want 900 (given, and the default)", r.Name, r.Priority)
		}
	}
}

func TestWantedRoutesErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  config.Agent
		want []string
	}{
		{"duplicate range", config.Agent{Routes: []config.RouteSpec{
			{Network: "vpc-a", DestRanges: []string{"10.1.0.0/16"}},
			{Network: "projects/p/global/networks/vpc-a", DestRanges: []string{"10.1.0.0/16"}},
		}}, []string{`destRange "10.1.0.0/16"`, "listed twice"}},
		{"bad next hop", config.Agent{Routes: []config.RouteSpec{
			{Network: "vpc-a", DestRanges: []string{"10.1.0.0/16"}, NextHop: "gateway"},
		}}, []string{`routes[0].nextHop: "gateway"`}},
		{"ip next hop off-instance", config.Agent{Routes: []config.RouteSpec{
			{Network: "vpc-c", DestRanges: []string{"10.1.0.0/16"}, NextHop: "ip"},
		}}, []string{`routes[0].nextHop`, `"vpc-c"`}},
	}
	for _, c := range cases {
		_, err := WantedRoutes(c.cfg, testIdentity, "", "dev")
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	cfg, err := config.LoadAgent([]byte("routes:\n" +
		"  - {network: vpc-a, destRanges: [10.1.0.0/16]}\n" +
		"  - {network: vpc-z, destRanges: [10.2.0.0/16]}\n" +
		"  - {network: projects/p/global/networks/vpc-b, destRanges: [10.3.0.0/16]}\n" +
		"  - {network: vpc-y, destRanges: [10.4.0.0/16]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(cfg, testIdentity)
	if err == nil {
		t.Fatal("no error for networks vpc-z and vpc-y that no NIC is on")
	}
	for _, w := range []string{`routes[1].network: "vpc-z"`, `routes[3].network: "vpc-y"`, "nic0: vpc-a, nic1: vpc-b"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "routes[0]") || strings.Contains(err.Error(), "routes[2]") {
		t.Errorf("error %q names a route whose network a NIC is on", err)
	}
	cfg.Routes = cfg.Routes[:1]
	if err := Validate(cfg, testIdentity); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestGroupFromAttributes(t *testing.T) {
	cases := []struct{ group, createdBy, want string }{
		{"", "", ""},
		{"fwd", "projects/1/zones/z/instanceGroupManagers/other", "fwd"},
		{"", "projects/1/zones/us-central1-a/instanceGroupManagers/fwd", "fwd"},
		{"", "projects/1/regions/us-central1/instanceGroupManagers/fwd-r", "fwd-r"},
		{"", "projects/1/zones/z/instances/creator", ""},
	}
	for _, c := range cases {
		if got := GroupFromAttributes(c.group, c.createdBy); got != c.want {
			t.Errorf("GroupFromAttributes(%q, %q) = %q, want %q", c.group, c.createdBy, got, c.want)
		}
	}
}
