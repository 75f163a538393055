package gcefake

import (
	"hash/fnv"
	"net/http"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// migViewLocked renders g as instanceGroupManagers.get answers it, by
// running that handler, so that the lists below and get never disagree
// about a field.
func (s *Server) migViewLocked(g *group) *computepb.InstanceGroupManager {
	sc := groupScope(g)
	m := migRequest{sc, groupKey(g.spec.Project, g.location(), g.spec.Name), sc.path() + "/instanceGroupManagers/" + g.spec.Name}
	var rec bufferedResponse
	s.handleMIGGet(&rec, nil, m, g)
	pb := &computepb.InstanceGroupManager{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(rec.body.Bytes(), pb); err != nil {
		// The handler writes what writeProto marshalled from this type.
		panic("gcefake: instanceGroupManagers.get wrote an unreadable group: " + err.Error())
	}
	return pb
}

// migField returns a group's top-level field for filters.
func migField(m *computepb.InstanceGroupManager, field string) string {
	switch field {
	case "name":
		return m.GetName()
	case "zone":
		return m.GetZone()
	case "region":
		return m.GetRegion()
	case "selfLink":
		return m.GetSelfLink()
	case "id":
		return strconv.FormatUint(m.GetId(), 10)
	case "targetSize":
		return strconv.Itoa(int(m.GetTargetSize()))
	}
	return ""
}

// handleMIGAggregatedList serves aggregated/instanceGroupManagers: zonal
// groups under "zones/Z", regional ones under "regions/R" (Compute REST
// reference, instanceGroupManagers.aggregatedList).
func (s *Server) handleMIGAggregatedList(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	lp, apiErr := parseListParams(r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	s.mu.Lock()
	var items []scoped[*computepb.InstanceGroupManager]
	for _, g := range s.groups {
		if g.spec.Project != project {
			continue
		}
		if pb := s.migViewLocked(g); lp.filter.match(func(f string) string { return migField(pb, f) }) {
			items = append(items, scoped[*computepb.InstanceGroupManager]{groupScope(g).key(), pb})
		}
	}
	known := s.knownScopesLocked(project, false)
	s.mu.Unlock()
	byScope, empty, next := aggregatePage(items, (*computepb.InstanceGroupManager).GetName, known, lp)
	list := &computepb.InstanceGroupManagerAggregatedList{
		Kind:          proto.String("compute#instanceGroupManagerAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/instanceGroupManagers"),
		SelfLink:      proto.String(apiBase + "projects/" + project + "/aggregated/instanceGroupManagers"),
		Items:         map[string]*computepb.InstanceGroupManagersScopedList{},
		NextPageToken: optional(next),
	}
	for scope, migs := range byScope {
		list.Items[scope] = &computepb.InstanceGroupManagersScopedList{InstanceGroupManagers: migs}
	}
	for _, scope := range empty {
		list.Items[scope] = &computepb.InstanceGroupManagersScopedList{Warning: noResults(scope)}
	}
	writeProto(w, list)
}

// groupsInLocked returns the groups of sc's project that live in sc (a
// zone: zonal groups only; a region: regional groups only).
func (s *Server) groupsInLocked(sc opScope) []*group {
	var out []*group
	for _, g := range s.groups {
		if groupScope(g) == sc {
			out = append(out, g)
		}
	}
	return out
}

// handleMIGScopeList serves zones/Z/instanceGroupManagers and
// regions/R/instanceGroupManagers (Compute REST reference,
// instanceGroupManagers.list, regionInstanceGroupManagers.list).
func (s *Server) handleMIGScopeList(which func(*http.Request) opScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sc := which(r)
		lp, apiErr := parseListParams(r)
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		var items []*computepb.InstanceGroupManager
		s.mu.Lock()
		for _, g := range s.groupsInLocked(sc) {
			if pb := s.migViewLocked(g); lp.filter.match(func(f string) string { return migField(pb, f) }) {
				items = append(items, pb)
			}
		}
		s.mu.Unlock()
		items, next := page(items, (*computepb.InstanceGroupManager).GetName, lp)
		kind := "compute#instanceGroupManagerList"
		if sc.region != "" {
			kind = "compute#regionInstanceGroupManagerList"
		}
		writeProto(w, &computepb.InstanceGroupManagerList{
			Kind:          proto.String(kind),
			Id:            proto.String(sc.path() + "/instanceGroupManagers"),
			SelfLink:      proto.String(apiBase + sc.path() + "/instanceGroupManagers"),
			Items:         items,
			NextPageToken: optional(next),
		})
	}
}

// instanceGroupPB renders the unmanaged view of g's group (Compute REST
// reference, instanceGroups): gcloud reads its size for the MIG list. GCE
// gives the group its own id; the fake derives one from the selfLink so
// that it is stable.
func (s *Server) instanceGroupPBLocked(g *group) *computepb.InstanceGroup {
	sc := groupScope(g)
	link := apiBase + sc.path() + "/instanceGroups/" + g.spec.Name
	h := fnv.New64a()
	h.Write([]byte(link))
	pb := &computepb.InstanceGroup{
		Kind:              proto.String("compute#instanceGroup"),
		Id:                proto.Uint64(1_000_000_000_000_000_000 + h.Sum64()%8_000_000_000_000_000_000),
		Name:              proto.String(g.spec.Name),
		CreationTimestamp: proto.String(rfc3339(g.created)),
		SelfLink:          proto.String(link),
		Size:              proto.Int32(int32(len(s.membersLocked(g)))),
	}
	if sc.zone != "" {
		pb.Zone = proto.String(zoneURL(sc.project, sc.zone))
	} else {
		pb.Region = proto.String(regionURL(sc.project, sc.region))
	}
	return pb
}

// handleInstanceGroupList serves zones/Z/instanceGroups and
// regions/R/instanceGroups (Compute REST reference, instanceGroups.list,
// regionInstanceGroups.list): here only the groups of the fake's MIGs, as
// the fake has no unmanaged groups.
func (s *Server) handleInstanceGroupList(which func(*http.Request) opScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sc := which(r)
		lp, apiErr := parseListParams(r)
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		var items []*computepb.InstanceGroup
		s.mu.Lock()
		for _, g := range s.groupsInLocked(sc) {
			pb := s.instanceGroupPBLocked(g)
			if lp.filter.match(func(f string) string { return groupField(pb, f) }) {
				items = append(items, pb)
			}
		}
		s.mu.Unlock()
		items, next := page(items, (*computepb.InstanceGroup).GetName, lp)
		kind := "compute#instanceGroupList"
		if sc.region != "" {
			kind = "compute#regionInstanceGroupList"
		}
		writeProto(w, &computepb.InstanceGroupList{
			Kind:          proto.String(kind),
			Id:            proto.String(sc.path() + "/instanceGroups"),
			SelfLink:      proto.String(apiBase + sc.path() + "/instanceGroups"),
			Items:         items,
			NextPageToken: optional(next),
		})
	}
}

func groupField(g *computepb.InstanceGroup, field string) string {
	switch field {
	case "name":
		return g.GetName()
	case "selfLink":
		return g.GetSelfLink()
	case "size":
		return strconv.Itoa(int(g.GetSize()))
	}
	return ""
}

// handleAutoscalerList serves zones/Z/autoscalers and regions/R/autoscalers
// (Compute REST reference, autoscalers.list, regionAutoscalers.list). The
// fake's groups have no autoscaler, so the list is always empty: GCE then
// answers the list without `items`. gcloud's MIG describe and list read it
// to tell whether a group is autoscaled.
func (s *Server) handleAutoscalerList(which func(*http.Request) opScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sc := which(r)
		if _, apiErr := parseListParams(r); apiErr != nil {
			writeError(w, apiErr)
			return
		}
		kind := "compute#autoscalerList"
		if sc.region != "" {
			kind = "compute#regionAutoscalerList"
		}
		writeProto(w, &computepb.AutoscalerList{
			Kind:     proto.String(kind),
			Id:       proto.String(sc.path() + "/autoscalers"),
			SelfLink: proto.String(apiBase + sc.path() + "/autoscalers"),
		})
	}
}

// handleAutoscalerAggregatedList serves aggregated/autoscalers (Compute REST
// reference, autoscalers.aggregatedList): every known zone and region,
// each with the NO_RESULTS_ON_PAGE warning, as no group has an autoscaler.
func (s *Server) handleAutoscalerAggregatedList(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	if _, apiErr := parseListParams(r); apiErr != nil {
		writeError(w, apiErr)
		return
	}
	s.mu.Lock()
	known := s.knownScopesLocked(project, false)
	s.mu.Unlock()
	list := &computepb.AutoscalerAggregatedList{
		Kind:     proto.String("compute#autoscalerAggregatedList"),
		Id:       proto.String("projects/" + project + "/aggregated/autoscalers"),
		SelfLink: proto.String(apiBase + "projects/" + project + "/aggregated/autoscalers"),
		Items:    map[string]*computepb.AutoscalersScopedList{},
	}
	for _, scope := range known {
		list.Items[scope] = &computepb.AutoscalersScopedList{Warning: noResults(scope)}
	}
	writeProto(w, list)
}
