package policy

import (
	"fmt"
	"slices"
)

// Observe returns vpclink's part of the kernel state in the shape of w: the
// values of w's sysctls (from values, keyed by Path; missing renders "?"),
// the rules in vpclink's band, every route of w's table and the main-table
// routes carrying RouteProtocol. Everything else in rules and routes is
// someone else's and left out, so Diff never touches it.
func Observe(w State, values map[string]string, rules []Rule, routes []Route) State {
	o := State{Table: w.Table, TableName: w.TableName}
	for _, s := range w.Sysctls {
		o.Sysctls = append(o.Sysctls, Sysctl{Name: s.Name, Path: s.Path, Value: values[s.Path]})
	}
	for _, r := range rules {
		if OwnsRule(r) {
			o.Rules = append(o.Rules, r)
		}
	}
	for _, r := range routes {
		if w.OwnsRoute(r) {
			o.Routes = append(o.Routes, r)
		}
	}
	return o
}

// OwnsRule reports whether r is in vpclink's priority band.
func OwnsRule(r Rule) bool {
	return r.Priority >= RuleBandFirst && r.Priority <= RuleBandLast
}

// OwnsRoute reports whether r is vpclink's: in its table, or in main with
// its protocol.
func (w State) OwnsRoute(r Route) bool {
	return r.Table == w.Table || (r.Table == MainTable && r.Protocol == RouteProtocol)
}

// Changes turn an observed state into the wanted one. Apply them in the
// order of the fields: sysctls, rule adds before rule deletes (a new nic1
// address gets its rule before the old one goes), route replaces before
// route deletes.
type Changes struct {
	Sysctls       []Sysctl
	AddRules      []Rule
	DeleteRules   []Rule
	ReplaceRoutes []Route
	DeleteRoutes  []Route
}

// Empty reports whether there is nothing to do.
func (c Changes) Empty() bool {
	return len(c.Sysctls)+len(c.AddRules)+len(c.DeleteRules)+len(c.ReplaceRoutes)+len(c.DeleteRoutes) == 0
}

// Describe returns one line per change for logs and /status: "+rule …",
// "-route …", "sysctl X=0 (was 1)".
func (c Changes) Describe(w State, observed State) []string {
	was := map[string]string{}
	for _, s := range observed.Sysctls {
		was[s.Path] = s.Value
	}
	var out []string
	for _, s := range c.Sysctls {
		out = append(out, fmt.Sprintf("%s (was %s)", s.Render(), orUnknown(was[s.Path])))
	}
	for _, r := range c.AddRules {
		out = append(out, "+"+w.RenderRule(r))
	}
	for _, r := range c.DeleteRules {
		out = append(out, "-"+w.RenderRule(r))
	}
	for _, r := range c.ReplaceRoutes {
		out = append(out, "+"+w.RenderRoute(r))
	}
	for _, r := range c.DeleteRoutes {
		out = append(out, "-"+w.RenderRoute(r))
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// routeKey is what the kernel uses to decide that a replace overwrites an
// existing route: table, destination, metric (TOS is never set here).
type routeKey struct {
	table, metric int
	dst           string
}

func keyOf(r Route) routeKey { return routeKey{r.Table, r.Metric, r.Dst.String()} }

// Diff returns the changes that turn observed (from Observe) into w.
// Comparison is by rendered line, so any difference in a field, flag or
// extra attribute counts. An observed route that differs from a wanted one
// about to be replaced under the same key is left to the replace, not
// deleted: deleting it first would open a gap, and deleting it after could
// remove the replacement (the kernel's delete ignores flags such as onlink).
// A stray duplicate next to a correct route is deleted; should the kernel
// pick the correct one instead, the next pass replaces it back.
func Diff(w State, observed State) Changes {
	var c Changes
	have := map[string]string{}
	for _, s := range observed.Sysctls {
		have[s.Path] = s.Value
	}
	for _, s := range w.Sysctls {
		if have[s.Path] != s.Value {
			c.Sysctls = append(c.Sysctls, s)
		}
	}

	wantRules, haveRules := linesOf(w.Rules, w.RenderRule), linesOf(observed.Rules, w.RenderRule)
	for _, r := range w.Rules {
		if !slices.Contains(haveRules, w.RenderRule(r)) {
			c.AddRules = append(c.AddRules, r)
		}
	}
	for _, r := range observed.Rules {
		if !slices.Contains(wantRules, w.RenderRule(r)) {
			c.DeleteRules = append(c.DeleteRules, r)
		}
	}

	wantRoutes, haveRoutes := linesOf(w.Routes, w.RenderRoute), linesOf(observed.Routes, w.RenderRoute)
	pendingKeys := map[routeKey]bool{} // keys a replace will overwrite
	for _, r := range w.Routes {
		if !slices.Contains(haveRoutes, w.RenderRoute(r)) {
			c.ReplaceRoutes = append(c.ReplaceRoutes, r)
			pendingKeys[keyOf(r)] = true
		}
	}
	for _, r := range observed.Routes {
		if !slices.Contains(wantRoutes, w.RenderRoute(r)) && !pendingKeys[keyOf(r)] {
			c.DeleteRoutes = append(c.DeleteRoutes, r)
		}
	}
	return c
}

func linesOf[T any](xs []T, render func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = render(x)
	}
	return out
}
