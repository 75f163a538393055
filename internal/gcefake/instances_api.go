package gcefake

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// instancePB renders an instance as the instances API returns it.
func instancePB(in *instance) *computepb.Instance {
	p := in.pub
	out := &computepb.Instance{
		Kind:              proto.String("compute#instance"),
		Id:                proto.Uint64(p.ID),
		Name:              proto.String(p.Name),
		Zone:              proto.String(zoneURL(p.Project, p.Zone)),
		Status:            proto.String(p.Status),
		CreationTimestamp: proto.String(rfc3339(p.CreationTimestamp)),
		SelfLink:          proto.String(instanceURL(p.Project, p.Zone, p.Name)),
		MachineType:       proto.String(zoneURL(p.Project, p.Zone) + "/machineTypes/e2-small"),
		CanIpForward:      proto.Bool(!in.noIPForward),
		Hostname:          proto.String(p.Name + "." + p.Zone + ".c." + p.Project + ".internal"),
		Metadata:          &computepb.Metadata{Kind: proto.String("compute#metadata"), Fingerprint: proto.String(fingerprint(in))},
	}
	if !p.LastStartTimestamp.IsZero() {
		out.LastStartTimestamp = proto.String(rfc3339(p.LastStartTimestamp))
	}
	if !in.lastStop.IsZero() {
		out.LastStopTimestamp = proto.String(rfc3339(in.lastStop))
	}
	for i, nic := range p.NICs {
		out.NetworkInterfaces = append(out.NetworkInterfaces, &computepb.NetworkInterface{
			Kind:       proto.String("compute#networkInterface"),
			Name:       proto.String("nic" + strconv.Itoa(i)),
			Network:    proto.String(in.netURLs[i]),
			Subnetwork: proto.String(regionURL(p.Project, regionOf(p.Zone)) + "/subnetworks/" + subnetName(nic)),
			NetworkIP:  proto.String(nic.IP),
		})
	}
	keys := make([]string, 0, len(in.metadata))
	for k := range in.metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Metadata.Items = append(out.Metadata.Items, &computepb.Items{Key: proto.String(k), Value: proto.String(in.metadata[k])})
	}
	return out
}

// subnetName invents a subnetwork name from the network and CIDR.
func subnetName(nic InstanceNIC) string {
	ip, _, _ := net.ParseCIDR(nic.Subnet)
	b := ip.To4()
	return fmt.Sprintf("%s-%d-%d-%d-%d", nic.Network, b[0], b[1], b[2], b[3])
}

func (s *Server) handleInstanceGet(w http.ResponseWriter, r *http.Request) {
	project, zone, name := r.PathValue("project"), r.PathValue("zone"), r.PathValue("instance")
	s.mu.Lock()
	var pb *computepb.Instance
	if in := s.instances[instKey(project, zone, name)]; in != nil && !in.hidden {
		pb = instancePB(in)
	}
	s.mu.Unlock()
	if pb == nil {
		writeError(w, errNotFound("projects/"+project+"/zones/"+zone+"/instances/"+name))
		return
	}
	writeProto(w, pb)
}

func (s *Server) handleInstanceList(w http.ResponseWriter, r *http.Request) {
	project, zone := r.PathValue("project"), r.PathValue("zone")
	lp, apiErr := parseListParams(r)
	if apiErr == nil {
		apiErr = lp.checkFields(r.URL.Query().Get("filter"), "name", "status", "zone", "id", "selfLink")
	}
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	var items []*computepb.Instance
	s.mu.Lock()
	for _, in := range s.instances {
		if in.pub.Project == project && in.pub.Zone == zone && !in.hidden {
			pb := instancePB(in)
			if lp.filter.match(func(f string) string { return instanceField(pb, f) }) {
				items = append(items, pb)
			}
		}
	}
	s.mu.Unlock()
	items, next := page(items, (*computepb.Instance).GetName, lp)
	list := &computepb.InstanceList{
		Kind:     proto.String("compute#instanceList"),
		Id:       proto.String("projects/" + project + "/zones/" + zone + "/instances"),
		SelfLink: proto.String(zoneURL(project, zone) + "/instances"),
		Items:    items,
	}
	if next != "" {
		list.NextPageToken = proto.String(next)
	}
	writeProto(w, list)
}

// instanceField returns an instance's top-level field for filters.
func instanceField(in *computepb.Instance, field string) string {
	switch field {
	case "name":
		return in.GetName()
	case "status":
		return in.GetStatus()
	case "zone":
		return in.GetZone()
	case "id":
		return strconv.FormatUint(in.GetId(), 10)
	case "selfLink":
		return in.GetSelfLink()
	}
	return ""
}

// handleInstanceAggregatedList serves aggregated/instances: every zone's
// instances in one list, keyed "zones/Z", paged over zone then name.
func (s *Server) handleInstanceAggregatedList(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	lp, apiErr := parseListParams(r)
	if apiErr == nil {
		apiErr = lp.checkFields(r.URL.Query().Get("filter"), "name", "status", "zone", "id", "selfLink")
	}
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	var items []*computepb.Instance
	s.mu.Lock()
	for _, in := range s.instances {
		if in.pub.Project == project && !in.hidden {
			pb := instancePB(in)
			if lp.filter.match(func(f string) string { return instanceField(pb, f) }) {
				items = append(items, pb)
			}
		}
	}
	s.mu.Unlock()
	zoneOf := func(in *computepb.Instance) string {
		z := in.GetZone()
		return z[strings.LastIndexByte(z, '/')+1:]
	}
	items, next := page(items, func(in *computepb.Instance) string { return zoneOf(in) + "/" + in.GetName() }, lp)
	list := &computepb.InstanceAggregatedList{
		Kind:     proto.String("compute#instanceAggregatedList"),
		Id:       proto.String("projects/" + project + "/aggregated/instances"),
		SelfLink: proto.String(apiBase + "projects/" + project + "/aggregated/instances"),
		Items:    map[string]*computepb.InstancesScopedList{},
	}
	for _, in := range items {
		key := "zones/" + zoneOf(in)
		if list.Items[key] == nil {
			list.Items[key] = &computepb.InstancesScopedList{}
		}
		list.Items[key].Instances = append(list.Items[key].Instances, in)
	}
	if next != "" {
		list.NextPageToken = proto.String(next)
	}
	s.addEmptyInstanceScopes(project, list)
	writeProto(w, list)
}
