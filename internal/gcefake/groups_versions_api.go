package gcefake

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
)

// readBody reads a JSON request body into v (protojson for proto messages).
func readBody(r *http.Request, v any) *apiError {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errInvalid("reading body: %v", err)
	}
	switch m := v.(type) {
	case *computepb.InstanceGroupManager:
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, m)
	default:
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		return errInvalid("Invalid JSON payload received. %v", err)
	}
	return nil
}

// handleMIGSetTemplate serves setInstanceTemplate: the group's template
// changes at once; existing members follow only under a PROACTIVE policy
// (see UpdatePolicy).
func (s *Server) handleMIGSetTemplate(w http.ResponseWriter, r *http.Request, m migRequest, g *group) {
	if s.replayLocked(w, r) {
		return
	}
	var req struct {
		InstanceTemplate string `json:"instanceTemplate"`
	}
	if e := readBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if !validTemplateRef(req.InstanceTemplate) {
		writeError(w, errInvalid("Invalid value for field 'resource.instanceTemplate': '%s'. The URL is malformed.", req.InstanceTemplate))
		return
	}
	g.template = templateURL(g.spec.Project, req.InstanceTemplate, g.spec.Name)
	scaleErr := s.scaleLocked(g)
	s.answerMIGOpLocked(w, r, m, g, "compute.instanceGroupManagers.setInstanceTemplate", g.spec.Name, scaleErr)
}

// handleMIGPatch serves patch for updatePolicy and a single version (or
// instanceTemplate); several versions (canaries) are not modelled.
func (s *Server) handleMIGPatch(w http.ResponseWriter, r *http.Request, m migRequest, g *group) {
	if s.replayLocked(w, r) {
		return
	}
	var req computepb.InstanceGroupManager
	if e := readBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	policy := g.policy
	if up := req.GetUpdatePolicy(); up != nil {
		var p UpdatePolicy
		p.Type = up.GetType()
		if up.MaxSurge != nil {
			p.MaxSurge = ptr(int(up.GetMaxSurge().GetFixed()))
		}
		if up.MaxUnavailable != nil {
			p.MaxUnavailable = ptr(int(up.GetMaxUnavailable().GetFixed()))
		}
		if e := policy.merge(p); e != nil {
			writeError(w, e)
			return
		}
	}
	template := g.template
	switch v := req.GetVersions(); {
	case len(v) > 1:
		writeError(w, &apiError{code: http.StatusNotImplemented, reason: "notImplemented", message: "gcefake models a single version per group"})
		return
	case len(v) == 1:
		template = v[0].GetInstanceTemplate()
	case req.InstanceTemplate != nil:
		template = req.GetInstanceTemplate()
	}
	if template != g.template && !validTemplateRef(template) {
		writeError(w, errInvalid("Invalid value for field 'resource.versions[0].instanceTemplate': '%s'. The URL is malformed.", template))
		return
	}
	g.policy = policy
	g.template = templateURL(g.spec.Project, template, g.spec.Name)
	if req.TargetSize != nil {
		g.spec.TargetSize = int(req.GetTargetSize())
	}
	scaleErr := s.scaleLocked(g)
	s.answerMIGOpLocked(w, r, m, g, "compute.instanceGroupManagers.patch", g.spec.Name, scaleErr)
}

// handleMIGCreateInstances serves createInstances: members with the given
// names are created from the current template and the target size grows
// by their number, as GCE does.
func (s *Server) handleMIGCreateInstances(w http.ResponseWriter, r *http.Request, m migRequest, g *group) {
	if s.replayLocked(w, r) {
		return
	}
	var req struct {
		Instances []struct {
			Name string `json:"name"`
		} `json:"instances"`
	}
	if e := readBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	var names []string
	for _, pic := range req.Instances {
		if !resourceName.MatchString(pic.Name) {
			writeError(w, errInvalid("Invalid value for field 'resource.instances[].name': '%s'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", pic.Name))
			return
		}
		for _, z := range g.zones {
			if s.instances[instKey(g.spec.Project, z, pic.Name)] != nil {
				writeError(w, errAlreadyExists("projects/"+g.spec.Project+"/zones/"+z+"/instances/"+pic.Name))
				return
			}
		}
		names = append(names, pic.Name)
	}
	var createErr error
	for _, name := range names {
		g.spec.TargetSize++
		if _, err := s.createMemberLocked(g, s.emptiestZoneLocked(g), name, "CREATING"); err != nil {
			createErr = err
			break
		}
	}
	s.answerMIGOpLocked(w, r, m, g, "compute.instanceGroupManagers.createInstances", joinNames(names), createErr)
}

// answerMIGOpLocked starts the operation of a MIG call that already acted,
// failing it with a backend error when the action did.
func (s *Server) answerMIGOpLocked(w http.ResponseWriter, r *http.Request, m migRequest, g *group, opType, target string, actErr error) {
	op := s.startOpLocked(m.scope, methodOf(r), opType, target, apiBase+m.path, g.id, func(ok bool) *apiError {
		if ok && actErr != nil {
			return &apiError{code: http.StatusInternalServerError, reason: "backendError", message: actErr.Error()}
		}
		return nil
	})
	s.rememberLocked(r, op)
	writeProto(w, op.pb)
}

func joinNames(names []string) string { return strings.Join(names, ",") }
