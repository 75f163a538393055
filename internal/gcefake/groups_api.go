package gcefake

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// migRequest is the group a zonal or regional instanceGroupManagers call
// names, with the scope its operations live in.
type migRequest struct {
	scope opScope
	key   string
	path  string // projects/P/{zones/Z|regions/R}/instanceGroupManagers/N
}

func zonalMIG(r *http.Request) migRequest {
	sc := zoneScope(r)
	name := r.PathValue("igm")
	return migRequest{sc, groupKey(sc.project, sc.zone, name), sc.path() + "/instanceGroupManagers/" + name}
}

func regionalMIG(r *http.Request) migRequest {
	sc := regionScope(r)
	name := r.PathValue("igm")
	return migRequest{sc, groupKey(sc.project, sc.region, name), sc.path() + "/instanceGroupManagers/" + name}
}

// withGroup resolves the group under the lock and calls h, or answers 404.
func (s *Server) withGroup(which func(*http.Request) migRequest, h func(w http.ResponseWriter, r *http.Request, m migRequest, g *group)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := which(r)
		s.mu.Lock()
		defer s.mu.Unlock()
		g := s.groups[m.key]
		if g == nil {
			writeError(w, errNotFound(m.path))
			return
		}
		h(w, r, m, g)
	}
}

func (s *Server) handleMIGGet(w http.ResponseWriter, _ *http.Request, m migRequest, g *group) {
	pb := &computepb.InstanceGroupManager{
		Kind:              proto.String("compute#instanceGroupManager"),
		Id:                proto.Uint64(g.id),
		Name:              proto.String(g.spec.Name),
		BaseInstanceName:  proto.String(g.spec.Name),
		CreationTimestamp: proto.String(rfc3339(g.created)),
		TargetSize:        proto.Int32(int32(g.spec.TargetSize)),
		SelfLink:          proto.String(apiBase + m.path),
		InstanceGroup:     proto.String(apiBase + m.scope.path() + "/instanceGroups/" + g.spec.Name),
		InstanceTemplate:  proto.String(g.template),
		Versions:          []*computepb.InstanceGroupManagerVersion{{InstanceTemplate: proto.String(g.template)}},
		UpdatePolicy: &computepb.InstanceGroupManagerUpdatePolicy{
			Type:           proto.String(g.policy.Type),
			MinimalAction:  proto.String("REPLACE"),
			MaxSurge:       &computepb.FixedOrPercent{Fixed: proto.Int32(int32(g.policy.surge()))},
			MaxUnavailable: &computepb.FixedOrPercent{Fixed: proto.Int32(int32(g.policy.unavailable()))},
		},
		ListManagedInstancesResults: proto.String(listResultsMode(g)),
	}
	if h := g.healer; h != nil {
		pb.AutoHealingPolicies = []*computepb.InstanceGroupManagerAutoHealingPolicy{{
			HealthCheck:     proto.String(apiBase + "projects/" + g.spec.Project + "/global/healthChecks/" + g.spec.Name),
			InitialDelaySec: proto.Int32(int32(h.spec.InitialDelay / time.Second)),
		}}
	}
	if g.spec.Zone != "" {
		pb.Zone = proto.String(zoneURL(g.spec.Project, g.spec.Zone))
	} else {
		pb.Region = proto.String(regionURL(g.spec.Project, g.spec.Region))
		pb.DistributionPolicy = &computepb.DistributionPolicy{}
		for _, z := range g.zones {
			pb.DistributionPolicy.Zones = append(pb.DistributionPolicy.Zones,
				&computepb.DistributionPolicyZoneConfiguration{Zone: proto.String(zoneURL(g.spec.Project, z))})
		}
	}
	actions := map[string]int32{}
	members := s.membersLocked(g)
	onTemplate := true
	for _, in := range members {
		actions[in.action]++
		onTemplate = onTemplate && in.template == g.template
	}
	pb.CurrentActions = &computepb.InstanceGroupManagerActionsSummary{
		None:       proto.Int32(actions["NONE"]),
		Creating:   proto.Int32(actions["CREATING"]),
		Deleting:   proto.Int32(actions["DELETING"]),
		Recreating: proto.Int32(actions["RECREATING"]),
		Verifying:  proto.Int32(actions["VERIFYING"]),
		Abandoning: proto.Int32(0),
	}
	pb.Status = &computepb.InstanceGroupManagerStatus{
		IsStable:      proto.Bool(actions["NONE"] == int32(len(members))),
		VersionTarget: &computepb.InstanceGroupManagerStatusVersionTarget{IsReached: proto.Bool(onTemplate)},
	}
	writeProto(w, pb)
}

func (s *Server) handleMIGList(w http.ResponseWriter, r *http.Request, m migRequest, g *group) {
	lp, apiErr := parseListParams(r)
	if apiErr == nil {
		apiErr = lp.checkFields(r.URL.Query().Get("filter"), "name", "instance", "instanceStatus", "currentAction", "id")
	}
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	var items []*computepb.ManagedInstance
	for _, in := range s.membersLocked(g) {
		mi := &computepb.ManagedInstance{
			Instance:      proto.String(instanceURL(in.pub.Project, in.pub.Zone, in.pub.Name)),
			Name:          proto.String(in.pub.Name),
			CurrentAction: proto.String(in.action),
			TargetStatus:  proto.String(StatusRunning),
			Version:       &computepb.ManagedInstanceVersion{InstanceTemplate: proto.String(in.template)},
		}
		// id and instanceStatus appear once the VM exists (see boot).
		if !in.hidden {
			mi.Id = proto.Uint64(in.pub.ID)
			mi.InstanceStatus = proto.String(in.pub.Status)
		}
		if lp.filter.match(func(f string) string { return managedField(mi, f) }) {
			items = append(items, mi)
		}
	}
	// listManagedInstancesResults PAGELESS (GCE's default) ignores
	// maxResults and pageToken and returns every member (REST reference,
	// InstanceGroupManager.listManagedInstancesResults).
	next := ""
	if g.spec.Paginated {
		items, next = page(items, (*computepb.ManagedInstance).GetName, lp)
	}
	var nextTok *string
	if next != "" {
		nextTok = proto.String(next)
	}
	if m.scope.region != "" {
		writeProto(w, &computepb.RegionInstanceGroupManagersListInstancesResponse{ManagedInstances: items, NextPageToken: nextTok})
		return
	}
	writeProto(w, &computepb.InstanceGroupManagersListManagedInstancesResponse{ManagedInstances: items, NextPageToken: nextTok})
}

func managedField(mi *computepb.ManagedInstance, field string) string {
	switch field {
	case "name":
		return mi.GetName()
	case "instance":
		return mi.GetInstance()
	case "instanceStatus":
		return mi.GetInstanceStatus()
	case "currentAction":
		return mi.GetCurrentAction()
	case "id":
		return strconv.FormatUint(mi.GetId(), 10)
	}
	return ""
}

// handleMIGResize changes the target size at once (the MIG starts creating
// or deleting) and returns an operation that is DONE after the op latency.
func (s *Server) handleMIGResize(w http.ResponseWriter, r *http.Request, m migRequest, g *group) {
	if s.replayLocked(w, r) {
		return
	}
	size, err := strconv.Atoi(r.URL.Query().Get("size"))
	if err != nil || size < 0 {
		writeError(w, errInvalid("Invalid value for field 'size': '%s'.", r.URL.Query().Get("size")))
		return
	}
	g.spec.TargetSize = size
	scaleErr := s.scaleLocked(g)
	op := s.startOpLocked(m.scope, methodOf(r), "compute.instanceGroupManagers.resize", g.spec.Name, apiBase+m.path, g.id, func(ok bool) *apiError {
		if ok && scaleErr != nil {
			return &apiError{code: http.StatusInternalServerError, reason: "backendError", message: scaleErr.Error()}
		}
		return nil
	})
	s.rememberLocked(r, op)
	writeProto(w, op.pb)
}

// membersFromBody reads {"instances":[URL...]} and resolves each to a member
// of g. Any URL that is not a member fails the whole call with 400, like
// GCE does without skipInstancesOnValidationError.
func (s *Server) membersFromBody(r *http.Request, g *group) ([]*instance, *apiError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errInvalid("reading body: %v", err)
	}
	var req computepb.InstanceGroupManagersRecreateInstancesRequest
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &req); err != nil {
		return nil, errInvalid("Invalid JSON payload received. %v", err)
	}
	var out []*instance
	for _, u := range req.GetInstances() {
		p, z, n, ok := parseInstanceRef(g.spec.Project, u)
		in := s.instances[instKey(p, z, n)]
		if !ok || in == nil || !slices.Contains(s.membersLocked(g), in) {
			return nil, errInvalid("Instance '%s' is not a member of instance group manager '%s'.", u, g.spec.Name)
		}
		out = append(out, in)
	}
	return out, nil
}

func (s *Server) handleMIGRecreate(w http.ResponseWriter, r *http.Request, m migRequest, g *group) {
	if s.replayLocked(w, r) {
		return
	}
	members, apiErr := s.membersFromBody(r, g)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	for _, in := range members {
		s.stopMemberLocked(in, "RECREATING")
	}
	op := s.startOpLocked(m.scope, methodOf(r), "compute.instanceGroupManagers.recreateInstances", memberNames(members), apiBase+m.path, g.id, nil)
	s.rememberLocked(r, op)
	writeProto(w, op.pb)
}

// handleMIGDeleteInstances deletes the members and lowers the target size
// by their number, as GCE does.
func (s *Server) handleMIGDeleteInstances(w http.ResponseWriter, r *http.Request, m migRequest, g *group) {
	if s.replayLocked(w, r) {
		return
	}
	members, apiErr := s.membersFromBody(r, g)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	for _, in := range members {
		if in.action != "DELETING" {
			g.spec.TargetSize = max(0, g.spec.TargetSize-1)
		}
		s.stopMemberLocked(in, "DELETING")
	}
	op := s.startOpLocked(m.scope, methodOf(r), "compute.instanceGroupManagers.deleteInstances", memberNames(members), apiBase+m.path, g.id, nil)
	s.rememberLocked(r, op)
	writeProto(w, op.pb)
}

// memberNames joins instance names with commas, the operation log's target
// for calls naming several members.
func memberNames(members []*instance) string {
	names := make([]string, len(members))
	for i, in := range members {
		names[i] = in.pub.Name
	}
	return strings.Join(names, ",")
}

func listResultsMode(g *group) string {
	if g.spec.Paginated {
		return "PAGINATED"
	}
	return "PAGELESS"
}
