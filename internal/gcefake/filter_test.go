package gcefake

import "testing"

func TestFilterForms(t *testing.T) {
	fields := map[string]string{"name": "vpclink-123-ab", "status": "RUNNING", "network": "https://x/projects/p/global/networks/vpc-a"}
	get := func(f string) string { return fields[f] }
	cases := []struct {
		filter string
		match  bool
	}{
		{``, true},
		{`name eq "vpclink-.*"`, true},
		{`name eq vpclink-.*`, true},
		{`name eq "vpclink"`, false}, // regexes match the whole value
		{`name ne "vpclink-.*"`, false},
		{`name = "vpclink-123-ab"`, true},
		{`name = "vpclink-*"`, true},
		{`name = "vpclink-.*"`, false}, // = is literal: the dot is a dot
		{`name="vpclink-123-ab"`, true},
		{`name != "other"`, true},
		{`name : "vpclink-*"`, true},
		{`(name eq "vpclink-.*")`, true},
		{`(name eq "vpclink-.*") (status eq "RUNNING")`, true},
		{`(name eq "vpclink-.*") AND (status eq "STOPPED")`, false},
		{`(network eq ".*/networks/vpc-a")`, true},
		{`(missing eq "")`, true},
	}
	for _, tc := range cases {
		f, err := parseFilter(tc.filter)
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		if got := f.match(get); got != tc.match {
			t.Errorf("%s: match = %v, want %v", tc.filter, got, tc.match)
		}
	}
	for _, bad := range []string{`(name eq "a") OR (name eq "b")`, `name eq "(`, `name eq "unterminated`, `name`, `(name eq a`, `NOT (name eq a)`, `name gt 3`} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("%s: parsed, want an error", bad)
		}
	}
}
