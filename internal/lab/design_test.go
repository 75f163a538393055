package lab

import (
	"slices"
	"strings"
	"testing"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// --design values: all expands to the implemented designs in KnownDesigns'
// order, repeats collapse, a known design the lab cannot run and an unknown
// one are errors naming them.
func TestExpandDesigns(t *testing.T) {
	impl := ImplementedDesigns()
	if len(impl) == 0 || impl[0] != DesignVPCLink {
		t.Fatalf("implemented designs %v: vpclink first", impl)
	}
	for _, tc := range []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{in: []string{"vpclink"}, want: []string{"vpclink"}},
		{in: []string{"all"}, want: impl},
		{in: []string{"all", "vpclink", "all"}, want: impl},
		{in: []string{"nope"}, wantErr: `design "nope": unknown`},
		{in: []string{"vpclink", "nope"}, wantErr: `design "nope": unknown`},
	} {
		got, err := ExpandDesigns(tc.in)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ExpandDesigns(%v) = %v, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
		case err != nil || !slices.Equal(got, tc.want):
			t.Errorf("ExpandDesigns(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, d := range KnownDesigns {
		if slices.Contains(impl, d) {
			continue
		}
		if err := CheckDesigns([]string{d}); err == nil || !strings.Contains(err.Error(), "not implemented") {
			t.Errorf("CheckDesigns(%s) = %v, want not implemented", d, err)
		}
	}
}

// A baseline's failing row is informational: the run is OK as long as
// vpclink's rows pass.
func TestReportOKIgnoresInformationalRows(t *testing.T) {
	r := Report{Scenarios: []ScenarioResult{
		{Name: "panic", Design: "vpclink", OK: true},
		{Name: "panic", Design: "shutdown-script", OK: false, Informational: true},
	}}
	if !r.OK() {
		t.Error("a failing baseline row failed the run")
	}
	r.Scenarios[0].OK = false
	if r.OK() {
		t.Error("a failing vpclink row passed the run")
	}
}

// The baselines' route names as the earlier scripts wrote them: v0.4
// without the instance id (routeID 0: whichever incarnation holds the
// name), v0.5 with it; each owns only routes carrying its marker.
func TestScriptDesignRouteNames(t *testing.T) {
	inst := gcefake.Instance{Name: "fwd-ab12", ID: 3245654999523801869}
	v04, v05 := &scriptDesign{}, &scriptDesign{v05: true}
	for _, tc := range []struct {
		d    *scriptDesign
		n    int
		name string
		id   uint64
	}{
		{v04, 0, "fwd-ab12-0", 0},
		{v04, 1, "fwd-ab12-1", 0},
		{v05, 0, "fwd-ab12-3245654999523801869-0", 3245654999523801869},
		{v05, 1, "fwd-ab12-3245654999523801869-1", 3245654999523801869},
	} {
		got := tc.d.routeName(inst, tc.n)
		if got != tc.name || tc.d.routeID(got) != tc.id {
			t.Errorf("%s route %d: %s (id %d), want %s (id %d)", tc.d.name(), tc.n, got, tc.d.routeID(got), tc.name, tc.id)
		}
	}
	if v05.routeID("fwd-ab12-0") != 0 || v05.routeID("vpclink-1-abcdef12") != 0 {
		t.Error("v0.5 read an id from a name without one")
	}
	if !v04.ownsRoute("fwd-ab12-0", scriptMarkerV04) || v04.ownsRoute("fwd-ab12-0", scriptMarkerV05) || v05.ownsRoute("x", "vpclink:v1 instance=x") {
		t.Error("ownership by marker")
	}
	if v04.supports("reconciler-restart") || !v05.supports("panic") || !v04.supports("nic1-flap") {
		t.Error("supported scenarios")
	}
}
