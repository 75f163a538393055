package gce

import "strings"

// Group is an instance group manager as Get reads it.
type Group struct {
	Name             string
	BaseInstanceName string
	TargetSize       int
	// InstanceTemplate is the top-level template; GCE keeps it equal to the
	// only version's template and leaves it empty with several versions.
	InstanceTemplate string
	Versions         []GroupVersion
	UpdatePolicy     UpdatePolicy
	// Stable is status.isStable: no member is being created, deleted,
	// recreated or verified.
	Stable bool
	// VersionTargetReached is status.versionTarget.isReached: every member
	// runs the version the group asks for.
	VersionTargetReached bool
}

// GroupVersion is one entry of versions[]; a canary has several.
type GroupVersion struct {
	Name             string
	InstanceTemplate string
	TargetSize       Amount // zero for the version that takes the rest
}

// UpdatePolicy is updatePolicy: how the MIG itself moves members to a new
// template. Type is PROACTIVE (it replaces them on its own, within MaxSurge
// and MaxUnavailable) or OPPORTUNISTIC (only when something else recreates
// them).
type UpdatePolicy struct {
	Type              string
	MinimalAction     string
	ReplacementMethod string // SUBSTITUTE or RECREATE
	MaxSurge          Amount
	MaxUnavailable    Amount
}

// Amount is GCE's FixedOrPercent: a fixed count or a percentage of the
// target size; Calculated is what GCE worked out from it.
type Amount struct {
	Fixed      int
	Percent    int
	Calculated int
}

// CurrentTemplate returns the template new members get: the only version's
// template or the top-level one, and false when the group runs several
// versions (a canary), which has no single current template.
func (g Group) CurrentTemplate() (string, bool) {
	switch len(g.Versions) {
	case 0:
		return g.InstanceTemplate, g.InstanceTemplate != ""
	case 1:
		return g.Versions[0].InstanceTemplate, g.Versions[0].InstanceTemplate != ""
	}
	return "", false
}

// SameTemplate reports whether two instance template references name the
// same template, whatever their form: a full https://…/compute/v1/ URL,
// projects/P/global/instanceTemplates/T or a regional template.
func SameTemplate(a, b string) bool {
	return a != "" && templatePath(a) == templatePath(b)
}

func templatePath(ref string) string {
	if i := strings.Index(ref, "projects/"); i >= 0 {
		return ref[i:]
	}
	return ref
}
