package config

import (
	"fmt"
	"math"

	"github.com/vpclink/vpclink/internal/naming"
)

// Validate reports every problem with a defaulted reconciler config at
// once, as a *ValidationError.
func (r Reconciler) Validate() error {
	var ps problems
	switch {
	case r.Project == "":
		ps.add("project", nil, "missing: the project whose routes and groups to reconcile")
	case !projectRE.MatchString(r.Project):
		ps.add("project", r.Project, "not a project id")
	}
	if err := naming.ValidatePrefix(r.RoutePrefix); err != nil {
		ps.add("routePrefix", r.RoutePrefix, "%v", err)
	}
	r.validateGroups(&ps)
	r.validateAllow(&ps)
	r.Probe.validate(&ps)
	if f := r.MinHealthyFraction; f != nil && (math.IsNaN(*f) || *f < 0 || *f > 1) {
		ps.add("minHealthyFraction", *f, "fraction outside 0..1")
	}
	checkNotNegative(&ps, "bootGrace", r.BootGrace)
	if r.Interval.Duration <= 0 {
		ps.add("interval", r.Interval.Duration, "must be positive")
	}
	checkListen(&ps, "listen", r.Listen)
	if r.Restore.MaxPerForwarder < 0 {
		ps.add("restore.maxPerForwarder", r.Restore.MaxPerForwarder, "must be positive")
	}
	if r.Restore.MaxPerPass < 0 {
		ps.add("restore.maxPerPass", r.Restore.MaxPerPass, "must be positive")
	}
	if r.Healthz.FailAfter.Duration < 0 {
		ps.add("healthz.failAfter", r.Healthz.FailAfter.Duration, "must be positive")
	}
	return ps.err()
}

func (r Reconciler) validateGroups(ps *problems) {
	if len(r.Groups) == 0 {
		ps.add("groups", nil, "no groups: list the forwarder MIGs to reconcile")
	}
	seen := map[Group]int{}
	for i, g := range r.Groups {
		f := fmt.Sprintf("groups[%d]", i)
		switch {
		case g.Name == "":
			ps.add(f+".name", nil, "missing: the managed instance group's name")
		case !gceNameRE.MatchString(g.Name):
			ps.add(f+".name", g.Name, "not a GCE resource name")
		}
		switch {
		case g.Zone != "" && g.Region != "":
			ps.add(f, g.Name, "both zone %q and region %q: a group is zonal or regional, give one", g.Zone, g.Region)
		case g.Zone == "" && g.Region == "":
			ps.add(f, g.Name, "neither zone nor region: give the one the group lives in")
		case g.Zone != "" && !gceNameRE.MatchString(g.Zone):
			ps.add(f+".zone", g.Zone, "not a zone name such as us-central1-a")
		case g.Region != "" && !gceNameRE.MatchString(g.Region):
			ps.add(f+".region", g.Region, "not a region name such as us-central1")
		}
		// A group is (project, zone or region, name): the project is the
		// config's for every group, so equal name and location is one group.
		if j, dup := seen[g]; dup {
			ps.add(f, g.Name, "same group as groups[%d]: a group is its project, zone or region, and name", j)
			continue
		}
		seen[g] = i
	}
}

func (r Reconciler) validateAllow(ps *problems) {
	if len(r.Allow) == 0 {
		ps.add("allow", nil, "no entries: restores would create nothing; list the networks and ranges they may create")
	}
	seen := map[string]string{}
	for i, a := range r.Allow {
		f := fmt.Sprintf("allow[%d]", i)
		urlProject, _ := checkNetwork(ps, f+".network", a.Network)
		checkProject(ps, f+".project", a.Project, urlProject)
		checkRanges(ps, f+".destRanges", a.DestRanges, a.Project+"|"+naming.NetworkName(a.Network), seen)
		pr := a.Priority
		switch {
		case pr.Min > pr.Max:
			ps.add(f+".priority", fmt.Sprintf("{min: %d, max: %d}", pr.Min, pr.Max), "min is above max")
		case pr.Max > MaxRoutePriority:
			ps.add(f+".priority.max", pr.Max, "priority outside 0..%d", MaxRoutePriority)
		}
		if pl := a.PrefixLength; pl != nil {
			switch {
			case pl.Min < 0 || pl.Max > 32:
				ps.add(f+".prefixLength", fmt.Sprintf("{min: %d, max: %d}", pl.Min, pl.Max), "lengths outside 0..32")
			case pl.Min > pl.Max:
				ps.add(f+".prefixLength", fmt.Sprintf("{min: %d, max: %d}", pl.Min, pl.Max), "min is above max")
			}
		}
	}
}

func (p Probe) validate(ps *problems) {
	checkPort(ps, "probe.port", p.Port)
	if len(p.Path) == 0 || p.Path[0] != '/' {
		ps.add("probe.path", p.Path, "must start with /")
	}
	if p.Interval.Duration <= 0 {
		ps.add("probe.interval", p.Interval.Duration, "must be positive")
	}
	switch {
	case p.Timeout.Duration <= 0:
		ps.add("probe.timeout", p.Timeout.Duration, "must be positive")
	case p.Timeout.Duration >= p.Interval.Duration:
		ps.add("probe.timeout", p.Timeout.Duration, "not shorter than probe.interval %s: a probe must end before the next one starts", p.Interval.Duration)
	}
	if p.Failures < 1 {
		ps.add("probe.failures", p.Failures, "must be 1 or more")
	}
	if p.Successes < 1 {
		ps.add("probe.successes", p.Successes, "must be 1 or more")
	}
}
