package gcefake

import (
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// routeEntry is a route from the moment its insert is accepted. It is
// visible (get, list) only once live, i.e. once the insert operation is
// DONE, and gone from the API once the delete operation is DONE. The data
// plane lags both: the route is programmed a propagation delay after its
// insert is DONE and unprogrammed a propagation delay after its delete is
// DONE (meanwhile it sits in its project's fading list).
type routeEntry struct {
	pb           *computepb.Route // canonical stored form, without warnings
	live         bool
	deleting     bool
	programmed   time.Time // data plane uses it from then on; zero until its insert is DONE
	unprogrammed time.Time // data plane stops using it then; zero until its delete is DONE
}

// programmedAt reports whether the data plane uses the route at now (next
// hop aside).
func (e *routeEntry) programmedAt(now time.Time) bool {
	return !e.programmed.IsZero() && !now.Before(e.programmed) &&
		(e.unprogrammed.IsZero() || now.Before(e.unprogrammed))
}

// propagateLocked draws a propagation delay and returns when it ends,
// telling subscribers then. Source: the VPC routes overview
// (cloud.google.com/vpc/docs/routes): added and deleted routes reach the VM
// controllers through "an eventually consistent design"; no figure is
// published, so the delay is the configured Propagation.
func (s *Server) propagateLocked(now time.Time) time.Time {
	d := s.propagate.Draw(s.rng)
	if d > 0 {
		s.afterFunc(d, s.notifyLocked)
	}
	return now.Add(d)
}

var resourceName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Routes returns a snapshot of project's live routes, sorted by name, with
// their current warnings.
func (s *Server) Routes(project string) []*computepb.Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[project]
	if p == nil {
		return nil
	}
	var out []*computepb.Route
	for _, e := range p.routes {
		if e.live {
			out = append(out, proto.Clone(s.routeViewLocked(e)).(*computepb.Route))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// SetQuota limits the number of routes in project; n <= 0 removes the
// limit. network is ignored: GCE's ROUTES quota counts every route of the
// project, whatever its network. An insert beyond the limit fails on its
// operation with 403 QUOTA_EXCEEDED.
func (s *Server) SetQuota(project, network string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.quota, project)
		return
	}
	s.quota[project] = n
}

// routeQuotaLocked returns the error of an insert that would exceed p's
// ROUTES quota, or nil. GCE finds it after accepting the call and reports
// it on the operation: QUOTA_EXCEEDED, "Quota 'ROUTES' exceeded.  Limit:
// N globally." (wording from the field report openshift/origin#15969),
// httpErrorStatusCode 403, with errorDetails[].quotaInfo naming the metric
// compute.googleapis.com/routes and the limit (the Operation resource's
// quotaInfo fields in the REST reference).
func (s *Server) routeQuotaLocked(p *project) *apiError {
	limit, ok := s.quota[p.name]
	if !ok || s.countRoutesLocked(p) < limit {
		return nil
	}
	return &apiError{
		code: http.StatusForbidden, reason: "QUOTA_EXCEEDED",
		message: "Quota 'ROUTES' exceeded.  Limit: " + itoa(limit) + ".0 globally.",
		quota: &computepb.QuotaExceededInfo{
			MetricName: proto.String("compute.googleapis.com/routes"),
			LimitName:  proto.String("ROUTES-per-project"),
			Limit:      proto.Float64(float64(limit)),
			Dimensions: map[string]string{"global": "global"},
		},
	}
}

// routeViewLocked is e as the API returns it, with its current warnings.
// The stored message is never modified once stored, so a route without
// warnings is returned as is and marshalled outside the lock.
func (s *Server) routeViewLocked(e *routeEntry) *computepb.Route {
	code := s.hopWarningLocked(e.pb)
	if code == "" {
		return e.pb
	}
	r := proto.Clone(e.pb).(*computepb.Route)
	r.Warnings = []*computepb.Warnings{{
		Code:    proto.String(code),
		Message: proto.String(warningMessages[code]),
		Data: []*computepb.Data{{
			Key: proto.String("next_hop"), Value: proto.String(e.pb.GetNextHopInstance() + e.pb.GetNextHopIp()),
		}},
	}}
	return r
}

var warningMessages = map[string]string{
	"NEXT_HOP_INSTANCE_NOT_FOUND":   "Next hop instance not found.",
	"NEXT_HOP_NOT_RUNNING":          "Next hop instance is not running.",
	"NEXT_HOP_ADDRESS_NOT_ASSIGNED": "Next hop address is not assigned to an instance in the network.",
	"NEXT_HOP_CANNOT_IP_FORWARD":    "Next hop instance cannot ip forward.",
}

func (s *Server) handleRouteInsert(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, errInvalid("reading body: %v", err))
		return
	}
	in := &computepb.Route{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, in); err != nil {
		writeError(w, errInvalid("Invalid JSON payload received. %v", err))
		return
	}
	rt, apiErr := canonicalRoute(project, in)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replayLocked(w, r) {
		return
	}
	p := s.projectLocked(project)
	name := rt.GetName()
	if p.routes[name] != nil {
		writeError(w, errAlreadyExists("projects/"+project+"/global/routes/"+name))
		return
	}
	if e := s.validateRouteLocked(routeView{rt.GetNetwork(), rt.GetDestRange()}); e != nil {
		writeError(w, e)
		return
	}
	if ref := rt.GetNextHopInstance(); ref != "" {
		hp, hz, hn, _ := parseInstanceRef(project, ref)
		if s.instances[instKey(hp, hz, hn)] == nil {
			writeError(w, errNotFound("projects/"+hp+"/zones/"+hz+"/instances/"+hn))
			return
		}
	}
	now := time.Now()
	rt.Id = proto.Uint64(s.newIDLocked())
	rt.CreationTimestamp = proto.String(rfc3339(now))
	e := &routeEntry{pb: rt}
	p.routes[name] = e
	p.sorted = nil
	op := s.startOpLocked(opScope{project: project}, methodOf(r), "insert", name, rt.GetSelfLink(), rt.GetId(), func(ok bool) *apiError {
		if p.routes[name] != e {
			return nil
		}
		if !ok {
			delete(p.routes, name)
			p.sorted = nil
			return nil
		}
		if e := s.routeQuotaLocked(p); e != nil {
			delete(p.routes, name)
			p.sorted = nil
			return e
		}
		e.live = true
		e.programmed = s.propagateLocked(time.Now())
		return nil
	})
	s.rememberLocked(r, op)
	writeProto(w, op.pb)
}

// countRoutesLocked counts live routes of project p.
func (s *Server) countRoutesLocked(p *project) int {
	n := 0
	for _, e := range p.routes {
		if e.live {
			n++
		}
	}
	return n
}

// canonicalRoute validates a route resource and returns the form the fake
// stores: full URLs, default priority, kind and selfLink.
func canonicalRoute(project string, in *computepb.Route) (*computepb.Route, *apiError) {
	name := in.GetName()
	if !resourceName.MatchString(name) {
		return nil, errInvalid("Invalid value for field 'resource.name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", name)
	}
	np, nn, ok := parseNetwork(project, in.GetNetwork())
	if !ok {
		return nil, errInvalid("Invalid value for field 'resource.network': '%s'.", in.GetNetwork())
	}
	if _, _, err := net.ParseCIDR(in.GetDestRange()); err != nil {
		return nil, errInvalid("Invalid value for field 'resource.destRange': '%s'. Must be a valid IPv4 CIDR address range.", in.GetDestRange())
	}
	out := &computepb.Route{
		Kind:        proto.String("compute#route"),
		Name:        proto.String(name),
		Network:     proto.String(networkURL(np, nn)),
		DestRange:   proto.String(in.GetDestRange()),
		Priority:    proto.Uint32(1000),
		Tags:        in.GetTags(),
		RouteType:   proto.String("STATIC"),
		RouteStatus: proto.String("ACTIVE"),
		SelfLink:    proto.String(apiBase + "projects/" + project + "/global/routes/" + name),
	}
	if in.Description != nil {
		out.Description = proto.String(in.GetDescription())
	}
	if in.Priority != nil {
		if in.GetPriority() > 65535 {
			return nil, errInvalid("Invalid value for field 'resource.priority': '%d'. Must be less than or equal to 65535", in.GetPriority())
		}
		out.Priority = proto.Uint32(in.GetPriority())
	}
	hops := 0
	if ref := in.GetNextHopInstance(); ref != "" {
		hp, hz, hn, ok := parseInstanceRef(project, ref)
		if !ok {
			return nil, errInvalid("Invalid value for field 'resource.nextHopInstance': '%s'.", ref)
		}
		out.NextHopInstance = proto.String(instanceURL(hp, hz, hn))
		hops++
	}
	if ip := in.GetNextHopIp(); ip != "" {
		if net.ParseIP(ip).To4() == nil {
			return nil, errInvalid("Invalid value for field 'resource.nextHopIp': '%s'.", ip)
		}
		out.NextHopIp = proto.String(ip)
		hops++
	}
	if gw := in.GetNextHopGateway(); gw != "" {
		out.NextHopGateway = proto.String(gw)
		hops++
	}
	if hops != 1 {
		return nil, errInvalid("Invalid value for field 'resource': exactly one next hop must be set, got %d.", hops)
	}
	return out, nil
}

func (s *Server) handleRouteGet(w http.ResponseWriter, r *http.Request) {
	project, name := r.PathValue("project"), r.PathValue("route")
	s.mu.Lock()
	var view *computepb.Route
	if p := s.projects[project]; p != nil {
		if e := p.routes[name]; e != nil && e.live {
			view = s.routeViewLocked(e)
		}
	}
	s.mu.Unlock()
	if view == nil {
		writeError(w, errNotFound("projects/"+project+"/global/routes/"+name))
		return
	}
	writeProto(w, view)
}

func (s *Server) handleRouteList(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	lp, apiErr := parseListParams(r)
	if apiErr == nil {
		apiErr = lp.checkFields(r.URL.Query().Get("filter"), "name", "network", "destRange", "description", "nextHopInstance", "nextHopIp", "priority")
	}
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	s.mu.Lock()
	var entries []*routeEntry
	next := ""
	if p := s.projects[project]; p != nil {
		// Walk the sorted names from the page token on, and stop one match
		// past the page: a page costs its own size plus what the filter skips.
		names := p.sortedNames()
		i := sort.SearchStrings(names, lp.after)
		if lp.after != "" && i < len(names) && names[i] == lp.after {
			i++
		}
		for ; i < len(names); i++ {
			e := p.routes[names[i]]
			if !e.live || !lp.filter.match(func(f string) string { return routeField(e.pb, f) }) {
				continue
			}
			if len(entries) == lp.maxResults {
				next = pageToken(entries[len(entries)-1].pb.GetName())
				break
			}
			entries = append(entries, e)
		}
	}
	list := &computepb.RouteList{
		Kind:     proto.String("compute#routeList"),
		Id:       proto.String("projects/" + project + "/global/routes"),
		SelfLink: proto.String(apiBase + "projects/" + project + "/global/routes"),
		Items:    make([]*computepb.Route, 0, len(entries)),
	}
	for _, e := range entries {
		list.Items = append(list.Items, s.routeViewLocked(e))
	}
	s.mu.Unlock()
	if next != "" {
		list.NextPageToken = proto.String(next)
	}
	writeProto(w, list)
}

// routeField returns a route's top-level field by its JSON name, for filters.
func routeField(r *computepb.Route, field string) string {
	switch field {
	case "name":
		return r.GetName()
	case "network":
		return r.GetNetwork()
	case "destRange":
		return r.GetDestRange()
	case "description":
		return r.GetDescription()
	case "nextHopInstance":
		return r.GetNextHopInstance()
	case "nextHopIp":
		return r.GetNextHopIp()
	case "priority":
		return itoa(int(r.GetPriority()))
	}
	return ""
}

func (s *Server) handleRouteDelete(w http.ResponseWriter, r *http.Request) {
	project, name := r.PathValue("project"), r.PathValue("route")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replayLocked(w, r) {
		return
	}
	p := s.projects[project]
	var e *routeEntry
	if p != nil {
		e = p.routes[name]
	}
	if e == nil {
		writeError(w, errNotFound("projects/"+project+"/global/routes/"+name))
		return
	}
	// A route another operation is still inserting or deleting is not
	// ready: GCE answers 400 resourceNotReady rather than 404 or a second
	// operation (see errNotReady for the source).
	if !e.live || e.deleting {
		writeError(w, errNotReady("projects/"+project+"/global/routes/"+name))
		return
	}
	e.deleting = true
	op := s.startOpLocked(opScope{project: project}, methodOf(r), "delete", name, e.pb.GetSelfLink(), e.pb.GetId(), func(ok bool) *apiError {
		if !ok {
			e.deleting = false
			return nil
		}
		if p.routes[name] == e {
			delete(p.routes, name)
			p.sorted = nil
			s.fadeLocked(p, e)
		}
		return nil
	})
	s.rememberLocked(r, op)
	writeProto(w, op.pb)
}

// fadeLocked keeps a deleted route programmed until its propagation delay
// ends, then forgets it.
func (s *Server) fadeLocked(p *project, e *routeEntry) {
	e.live = false
	e.unprogrammed = s.propagateLocked(time.Now())
	if !e.unprogrammed.After(time.Now()) {
		return
	}
	p.fading = append(p.fading, e)
	s.afterFunc(time.Until(e.unprogrammed), func() {
		p.fading = slices.DeleteFunc(p.fading, func(f *routeEntry) bool { return f == e })
	})
}
