package gcefake

import (
	"sort"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Aggregated lists (Compute REST reference, e.g.
// instanceGroupManagers.aggregatedList, globalOperations.aggregatedList,
// autoscalers.aggregatedList) answer one object whose `items` map is keyed
// by scope name — "zones/Z", "regions/R", "global" — and whose values hold
// the scope's resources under the resource's plural field, or, for a scope
// with nothing on this page, only a `warning` with code NO_RESULTS_ON_PAGE,
// message "There are no results for scope 'S' on this page." and data
// [{"key":"scope","value":"S"}].
//
// GCE lists every zone and region of the public cloud, so its `items` is
// never empty (and gcloud fails on a response without it). The fake lists
// baseScopes, the lab's region and its zones, and every other scope it knows
// in the project: the zones of its instances and groups, their regions,
// regional groups' regions and the scopes of its operations (plus "global"
// where the resource has one).
// includeAllScopes and returnPartialSuccess are accepted and change nothing:
// every known scope is always included and no scope is ever unreachable.

// baseScopes are listed in every aggregated list: us-central1 and its zones
// as GCE names them.
var baseScopes = []string{"regions/us-central1", "zones/us-central1-a", "zones/us-central1-b", "zones/us-central1-c", "zones/us-central1-f"}

// scopeKey is sc's key in an aggregated list's items map.
func (sc opScope) key() string {
	switch {
	case sc.zone != "":
		return "zones/" + sc.zone
	case sc.region != "":
		return "regions/" + sc.region
	}
	return "global"
}

// groupScope is the zone or region a group lives in.
func groupScope(g *group) opScope {
	if g.spec.Region != "" {
		return opScope{project: g.spec.Project, region: g.spec.Region}
	}
	return opScope{project: g.spec.Project, zone: g.spec.Zone}
}

// opScopeOf recovers an operation's scope from its key
// (projects/P/{global|zones/Z|regions/R}/operations/NAME).
func opScopeOf(key string) opScope {
	parts := strings.Split(key, "/")
	sc := opScope{project: parts[1]}
	switch parts[2] {
	case "zones":
		sc.zone = parts[3]
	case "regions":
		sc.region = parts[3]
	}
	return sc
}

// knownScopesLocked returns baseScopes and the zone and region scope keys
// of project the fake knows, sorted, with "global" first when withGlobal.
func (s *Server) knownScopesLocked(project string, withGlobal bool) []string {
	set := map[string]bool{}
	for _, k := range baseScopes {
		set[k] = true
	}
	addZone := func(z string) {
		set["zones/"+z] = true
		set["regions/"+regionOf(z)] = true
	}
	for _, in := range s.instances {
		if in.pub.Project == project {
			addZone(in.pub.Zone)
		}
	}
	for _, g := range s.groups {
		if g.spec.Project != project {
			continue
		}
		for _, z := range g.zones {
			addZone(z)
		}
		set[groupScope(g).key()] = true
	}
	for key := range s.ops {
		if sc := opScopeOf(key); sc.project == project && (sc.zone != "" || sc.region != "") {
			set[sc.key()] = true
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	if withGlobal {
		out = append([]string{"global"}, out...)
	}
	return out
}

// noResults is the warning GCE puts in a scope without items on the page.
func noResults(scope string) *computepb.Warning {
	return &computepb.Warning{
		Code:    proto.String(computepb.Warning_NO_RESULTS_ON_PAGE.String()),
		Message: proto.String("There are no results for scope '" + scope + "' on this page."),
		Data:    []*computepb.Data{{Key: proto.String("scope"), Value: proto.String(scope)}},
	}
}

// scoped is one resource of an aggregated list with its scope key.
type scoped[T any] struct {
	scope string
	item  T
}

// aggregatePage pages items in scope-then-name order, like the instances
// aggregated list, and groups the page by scope. empty holds the scopes of
// known (and of items on other pages) without items on this page.
func aggregatePage[T any](items []scoped[T], name func(T) string, known []string, lp listParams) (byScope map[string][]T, empty []string, next string) {
	all := map[string]bool{}
	for _, k := range known {
		all[k] = true
	}
	for _, it := range items {
		all[it.scope] = true
	}
	pageItems, next := page(items, func(it scoped[T]) string { return it.scope + "/" + name(it.item) }, lp)
	byScope = map[string][]T{}
	for _, it := range pageItems {
		byScope[it.scope] = append(byScope[it.scope], it.item)
	}
	for k := range all {
		if len(byScope[k]) == 0 {
			empty = append(empty, k)
		}
	}
	sort.Strings(empty)
	return byScope, empty, next
}

// optional returns a pointer to s, or nil when s is empty: proto fields a
// response leaves out rather than sets to "".
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// addEmptyInstanceScopes gives an instances aggregated list page the
// NO_RESULTS_ON_PAGE entry of every known scope without instances on it,
// as for the other aggregated lists.
func (s *Server) addEmptyInstanceScopes(project string, list *computepb.InstanceAggregatedList) {
	s.mu.Lock()
	known := s.knownScopesLocked(project, false)
	s.mu.Unlock()
	for _, scope := range known {
		if list.Items[scope] == nil {
			list.Items[scope] = &computepb.InstancesScopedList{Warning: noResults(scope)}
		}
	}
}
