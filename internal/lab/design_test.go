package lab

import (
	"slices"
	"strings"
	"testing"
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
