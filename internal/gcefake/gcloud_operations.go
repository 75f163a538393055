package gcefake

import (
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// opsLocked returns the operations whose scope keep accepts, brought up to
// date with the clock as a get would, and filtered by f.
func (s *Server) opsLocked(keep func(opScope) bool, f filter) []scoped[*computepb.Operation] {
	var out []scoped[*computepb.Operation]
	for key, op := range s.ops {
		sc := opScopeOf(key)
		if !keep(sc) {
			continue
		}
		s.refreshOpLocked(op)
		pb := proto.Clone(op.pb).(*computepb.Operation)
		if f.match(func(field string) string { return opField(pb, field) }) {
			out = append(out, scoped[*computepb.Operation]{sc.key(), pb})
		}
	}
	return out
}

// opField returns an operation's top-level field for filters.
func opField(op *computepb.Operation, field string) string {
	switch field {
	case "name":
		return op.GetName()
	case "status":
		return op.GetStatus().String()
	case "operationType":
		return op.GetOperationType()
	case "targetLink":
		return op.GetTargetLink()
	case "zone":
		return op.GetZone()
	case "region":
		return op.GetRegion()
	case "selfLink":
		return op.GetSelfLink()
	}
	return ""
}

// handleOpAggregatedList serves aggregated/operations (Compute REST
// reference, globalOperations.aggregatedList): global operations under
// "global", zonal under "zones/Z", regional under "regions/R". The order
// is by scope, then name; operation names start with their creation time
// in milliseconds, so each scope lists oldest first.
func (s *Server) handleOpAggregatedList(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	lp, apiErr := parseListParams(r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	s.mu.Lock()
	items := s.opsLocked(func(sc opScope) bool { return sc.project == project }, lp.filter)
	known := s.knownScopesLocked(project, true)
	s.mu.Unlock()
	byScope, empty, next := aggregatePage(items, (*computepb.Operation).GetName, known, lp)
	list := &computepb.OperationAggregatedList{
		Kind:          proto.String("compute#operationAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/operations"),
		SelfLink:      proto.String(apiBase + "projects/" + project + "/aggregated/operations"),
		Items:         map[string]*computepb.OperationsScopedList{},
		NextPageToken: optional(next),
	}
	for scope, ops := range byScope {
		list.Items[scope] = &computepb.OperationsScopedList{Operations: ops}
	}
	for _, scope := range empty {
		list.Items[scope] = &computepb.OperationsScopedList{Warning: noResults(scope)}
	}
	writeProto(w, list)
}

// handleOpScopeList serves global/operations, zones/Z/operations and
// regions/R/operations (Compute REST reference, globalOperations.list,
// zoneOperations.list, regionOperations.list).
func (s *Server) handleOpScopeList(which func(*http.Request) opScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := which(r)
		lp, apiErr := parseListParams(r)
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		s.mu.Lock()
		items := s.opsLocked(func(sc opScope) bool { return sc == want }, lp.filter)
		s.mu.Unlock()
		items, next := page(items, func(it scoped[*computepb.Operation]) string { return it.item.GetName() }, lp)
		list := &computepb.OperationList{
			Kind:          proto.String("compute#operationList"),
			Id:            proto.String(want.path() + "/operations"),
			SelfLink:      proto.String(apiBase + want.path() + "/operations"),
			NextPageToken: optional(next),
		}
		for _, it := range items {
			list.Items = append(list.Items, it.item)
		}
		writeProto(w, list)
	}
}
