package rollout

import (
	"regexp"
	"strings"
	"testing"

	"github.com/vpclink/vpclink/internal/gce"
)

const (
	tmplOld = "https://www.googleapis.com/compute/v1/projects/p/global/instanceTemplates/fwd-1"
	tmplNew = "projects/p/global/instanceTemplates/fwd-2"
)

// render shows a plan as one line per member, for table comparison.
func render(p Plan) string {
	var parts []string
	for _, m := range p.Current {
		parts = append(parts, "keep "+m.Name)
	}
	for _, s := range p.Steps {
		line := "replace " + s.Old.Name + " by " + s.New
		if s.Surged {
			line += " (surged)"
		}
		parts = append(parts, line)
	}
	for _, m := range p.Leaving {
		parts = append(parts, "leaving "+m.Name)
	}
	return strings.Join(parts, "; ")
}

func member(name, tmpl, action string) gce.ManagedInstance {
	return gce.ManagedInstance{Name: name, Template: tmpl, CurrentAction: action, Status: "RUNNING"}
}

func TestPlanRollout(t *testing.T) {
	group := gce.Group{Name: "fwd", BaseInstanceName: "fwd", TargetSize: 3,
		Versions: []gce.GroupVersion{{InstanceTemplate: "https://compute.googleapis.com/compute/v1/" + tmplNew}}}
	ra := ReplacementName("fwd", "fwd-aaaa", tmplNew)
	rb := ReplacementName("fwd", "fwd-bbbb", tmplNew)
	for _, tc := range []struct {
		name    string
		members []gce.ManagedInstance
		want    string
	}{
		{"all current: nothing to do",
			[]gce.ManagedInstance{member("fwd-aaaa", tmplNew, "NONE"), member("fwd-bbbb", tmplNew, "NONE")},
			"keep fwd-aaaa; keep fwd-bbbb"},
		{"outdated members in name order, current kept",
			[]gce.ManagedInstance{member("fwd-cccc", tmplNew, "NONE"), member("fwd-bbbb", tmplOld, "NONE"), member("fwd-aaaa", tmplOld, "NONE")},
			"keep fwd-cccc; replace fwd-aaaa by " + ra + "; replace fwd-bbbb by " + rb},
		{"rerun after the surge: the replacement is found, not created again",
			[]gce.ManagedInstance{member("fwd-aaaa", tmplOld, "NONE"), member("fwd-bbbb", tmplOld, "NONE"), member(ra, tmplNew, "CREATING")},
			"replace fwd-aaaa by " + ra + " (surged); replace fwd-bbbb by " + rb},
		{"rerun after the delete was accepted: the old member is leaving, its replacement is current",
			[]gce.ManagedInstance{member("fwd-aaaa", tmplOld, "DELETING"), member("fwd-bbbb", tmplOld, "NONE"), member(ra, tmplNew, "NONE")},
			"keep " + ra + "; replace fwd-bbbb by " + rb + "; leaving fwd-aaaa"},
		{"a member whose version GCE does not report is replaced",
			[]gce.ManagedInstance{member("fwd-aaaa", "", "NONE")},
			"replace fwd-aaaa by " + ra},
		{"a replacement on an older template is outdated itself",
			[]gce.ManagedInstance{member("fwd-aaaa", tmplOld, "NONE"), member(ra, tmplOld, "NONE")},
			"replace fwd-aaaa by " + ra + "; replace " + ra + " by " + ReplacementName("fwd", ra, tmplNew)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PlanRollout(group, tc.members)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(p); got != tc.want {
				t.Errorf("plan\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestPlanRolloutNeedsOneTemplate(t *testing.T) {
	canary := gce.Group{Name: "fwd", Versions: []gce.GroupVersion{{InstanceTemplate: tmplOld}, {InstanceTemplate: tmplNew}}}
	if _, err := PlanRollout(canary, nil); err == nil || !strings.Contains(err.Error(), "canary") {
		t.Errorf("canary: err %v, want one naming the canary", err)
	}
	if _, err := PlanRollout(gce.Group{Name: "fwd"}, nil); err == nil {
		t.Error("group without a template: no error")
	}
	top := gce.Group{Name: "fwd", InstanceTemplate: tmplNew}
	p, err := PlanRollout(top, []gce.ManagedInstance{member("fwd-aaaa", tmplOld, "NONE")})
	if err != nil || len(p.Steps) != 1 {
		t.Errorf("top-level template: %+v, %v; want one step", p, err)
	}
}

func TestReplacementName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	a := ReplacementName("fwd", "fwd-aaaa", tmplNew)
	if a != ReplacementName("fwd", "fwd-aaaa", "https://www.googleapis.com/compute/v1/"+tmplNew) {
		t.Error("a URL and a partial path of one template give different names")
	}
	if a == ReplacementName("fwd", "fwd-aaaa", tmplOld) || a == ReplacementName("fwd", "fwd-bbbb", tmplNew) {
		t.Error("another template or another member gives the same name")
	}
	long := strings.Repeat("x", 60) + "-"
	for _, n := range []string{a, ReplacementName(long, "m", tmplNew)} {
		if len(n) > 63 || !valid.MatchString(n) {
			t.Errorf("name %q (%d chars) is not a GCE instance name", n, len(n))
		}
	}
	if !strings.HasPrefix(a, "fwd-") || len(a) != len("fwd-")+replacementSuffixLen {
		t.Errorf("name %q: want fwd- and %d characters", a, replacementSuffixLen)
	}
}
