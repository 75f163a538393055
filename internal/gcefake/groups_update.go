package gcefake

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"
)

// UpdatePolicy is a MIG's updatePolicy: how members reach the group's
// template. Source: InstanceGroupManagerUpdatePolicy in the Compute REST
// reference. PROACTIVE replaces members on another template, creating at
// most MaxSurge members above the target size and keeping at most
// MaxUnavailable of the target unavailable (an instance is available when
// RUNNING and, with a health check, HEALTHY at least once); OPPORTUNISTIC
// leaves existing members alone, and so does setInstanceTemplate ("The
// templates for existing instances in the group do not change unless you
// run recreateInstances ... or set the group's updatePolicy.type to
// PROACTIVE"). minimalAction is REPLACE, the only one modelled.
type UpdatePolicy struct {
	Type           string `json:"type,omitempty"`           // PROACTIVE or OPPORTUNISTIC
	MaxSurge       *int   `json:"maxSurge,omitempty"`       // fixed number; default: the group's zone count
	MaxUnavailable *int   `json:"maxUnavailable,omitempty"` // fixed number; default: the group's zone count
}

// defaultPolicy is a new group's policy: OPPORTUNISTIC (a choice: the
// fake's groups do not change under their members unless asked), maxSurge
// and maxUnavailable the number of zones, the reference's defaults.
func defaultPolicy(zones int) UpdatePolicy {
	return UpdatePolicy{Type: "OPPORTUNISTIC", MaxSurge: &zones, MaxUnavailable: &zones}
}

// merge applies the set fields of p to u, validating as GCE does: at least
// one of maxSurge and maxUnavailable must be above 0.
func (u *UpdatePolicy) merge(p UpdatePolicy) *apiError {
	next := *u
	if p.Type != "" {
		if p.Type != "PROACTIVE" && p.Type != "OPPORTUNISTIC" {
			return errInvalid("Invalid value for field 'resource.updatePolicy.type': '%s'. Must be PROACTIVE or OPPORTUNISTIC", p.Type)
		}
		next.Type = p.Type
	}
	for name, v := range map[string]*int{"maxSurge": p.MaxSurge, "maxUnavailable": p.MaxUnavailable} {
		if v != nil && *v < 0 {
			return errInvalid("Invalid value for field 'resource.updatePolicy.%s.fixed': '%d'. Must be greater than or equal to 0", name, *v)
		}
	}
	if p.MaxSurge != nil {
		next.MaxSurge = ptr(*p.MaxSurge)
	}
	if p.MaxUnavailable != nil {
		next.MaxUnavailable = ptr(*p.MaxUnavailable)
	}
	if next.surge() == 0 && next.unavailable() == 0 {
		return errInvalid("Invalid value for field 'resource.updatePolicy': at least one of maxSurge and maxUnavailable must be greater than 0")
	}
	*u = next
	return nil
}

func (u UpdatePolicy) surge() int       { return deref(u.MaxSurge) }
func (u UpdatePolicy) unavailable() int { return deref(u.MaxUnavailable) }

func ptr[T any](v T) *T { return &v }

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// available reports whether a member counts as available for an update:
// RUNNING and verified (action NONE: healthy once when autohealing).
func available(in *instance) bool {
	return in.pub.Status == StatusRunning && in.action == "NONE"
}

// updateLocked drives a PROACTIVE update of g given its members not being
// deleted. It creates members on the current template while the group is
// below target+maxSurge and short of up-to-date members, and deletes
// members on other templates (unavailable ones first) while the available
// members stay at least target−maxUnavailable; replacements for deleted
// members are created at once. It returns the members left and whether an
// update is in progress, in which case up to maxSurge extra members are
// kept.
func (s *Server) updateLocked(g *group, keep []*instance) ([]*instance, bool) {
	if g.policy.Type != "PROACTIVE" {
		return keep, false
	}
	var outdated []*instance
	current, avail := 0, 0
	for _, in := range keep {
		if in.template != g.template {
			outdated = append(outdated, in)
		} else {
			current++
		}
		if available(in) {
			avail++
		}
	}
	if len(outdated) == 0 {
		return keep, false
	}
	target := g.spec.TargetSize
	create := func() bool {
		in, err := s.createMemberLocked(g, s.emptiestZoneLocked(g), "", "CREATING")
		if err != nil {
			s.log.Error("update: create failed", errField(err))
			return false
		}
		keep = append(keep, in)
		current++
		return true
	}
	for len(keep) < target+g.policy.surge() && current < target && create() {
	}
	sort.SliceStable(outdated, func(i, j int) bool { return !available(outdated[i]) && available(outdated[j]) })
	for _, in := range outdated {
		after := avail
		if available(in) {
			after--
		}
		if after < target-g.policy.unavailable() {
			break
		}
		avail = after
		s.stopMemberLocked(in, "DELETING")
		keep = removeInstance(keep, in)
		for len(keep) < target && create() {
		}
	}
	return keep, true
}

func removeInstance(list []*instance, in *instance) []*instance {
	out := list[:0:0]
	for _, x := range list {
		if x != in {
			out = append(out, x)
		}
	}
	return out
}

// Template is what the fake knows of an instance template: the metadata
// its instances get and its graceful-shutdown budget. Templates are not
// API resources in the fake; a group may name any template URL, and one not
// defined with DefineTemplate gives the group's own metadata and budget.
type Template struct {
	Metadata         map[string]string `json:"metadata,omitempty"`
	GracefulShutdown time.Duration     `json:"gracefulShutdown,omitempty"`
}

// DefineTemplate records template name (a name or URL) of project.
func (s *Server) DefineTemplate(project, name string, t Template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Metadata = maps.Clone(t.Metadata)
	s.templates[templateURL(project, name, name)] = t
}

// templateURL returns the full URL of a template given as a name, a
// global/instanceTemplates/N or regions/R/instanceTemplates/N path or a
// URL; empty names the default.
func templateURL(project, name, def string) string {
	if name == "" {
		name = def
	}
	switch {
	case strings.HasPrefix(name, "https://"):
		return name
	case strings.HasPrefix(name, "projects/"):
		return apiBase + name
	case strings.Contains(name, "/"):
		return apiBase + "projects/" + project + "/" + strings.TrimPrefix(name, "/")
	}
	return apiBase + "projects/" + project + "/global/instanceTemplates/" + name
}

// validTemplateRef reports whether ref names an instance template.
func validTemplateRef(ref string) bool {
	parts := strings.Split(strings.TrimRight(ref, "/"), "/")
	n := len(parts)
	return n >= 2 && parts[n-2] == "instanceTemplates" && resourceName.MatchString(parts[n-1])
}

// templateMetadataLocked is the metadata a new member of g gets: its
// template's when defined, else the group's.
func (s *Server) templateMetadataLocked(g *group) map[string]string {
	if t, ok := s.templates[g.template]; ok && t.Metadata != nil {
		return t.Metadata
	}
	return g.spec.Metadata
}

// shutdownBudgetLocked is how long a member of g created now may take to
// shut down when the MIG or an API call stops it: its template's graceful
// shutdown (the gracefulShutdown.maxDuration of an instance's scheduling,
// Compute REST reference) when set, else Options.ShutdownTimeout, by
// default 90 s: "Compute Engine ... shutdown scripts ... have a limited
// amount of time" of about 90 seconds for standard VMs (Compute docs,
// "Run shutdown scripts"). The guest is stopped when the budget ends,
// whether or not it finished.
func (s *Server) shutdownBudgetLocked(g *group) time.Duration {
	if t, ok := s.templates[g.template]; ok && t.GracefulShutdown > 0 {
		return t.GracefulShutdown
	}
	if g.spec.GracefulShutdown > 0 {
		return g.spec.GracefulShutdown
	}
	return s.opts.ShutdownTimeout
}

// SetGroupTemplate sets g's instance template, as setInstanceTemplate does.
func (s *Server) SetGroupTemplate(project, location, name, template string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupKey(project, location, name)]
	if g == nil {
		return fmt.Errorf("group %s/%s/%s: not found", project, location, name)
	}
	g.template = templateURL(project, template, name)
	return s.scaleLocked(g)
}

// SetUpdatePolicy merges p into the group's update policy, as patch does.
func (s *Server) SetUpdatePolicy(project, location, name string, p UpdatePolicy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[groupKey(project, location, name)]
	if g == nil {
		return fmt.Errorf("group %s/%s/%s: not found", project, location, name)
	}
	if e := g.policy.merge(p); e != nil {
		return e
	}
	return s.scaleLocked(g)
}
