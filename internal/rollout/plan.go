package rollout

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"

	"github.com/vpclink/vpclink/internal/gce"
)

// Plan is what a rollout still has to do, worked out from GCE alone: the
// group's current template and its members. A rollout stopped anywhere
// (after a surge member was created, after the old member was drained, after
// its delete was accepted) yields, when planned again, exactly the work left.
type Plan struct {
	Template   string
	TargetSize int
	// Current are the members on the current template that replace no one.
	Current []gce.ManagedInstance
	// Steps replace the outdated members, in name order.
	Steps []Step
	// Leaving are members the MIG is already deleting or abandoning: they
	// count for nothing and need nothing.
	Leaving []gce.ManagedInstance
}

// Step replaces one outdated member: surge New (created on the current
// template), wait until it routes and is ready, then drain and delete Old.
type Step struct {
	Old gce.ManagedInstance
	// New is the name of Old's replacement, derived from Old's name and the
	// template (ReplacementName), so a rerun finds the one it created.
	New string
	// Surged is set when New already exists in the group.
	Surged bool
}

// leaving reports whether the MIG is taking m away already.
func leaving(m gce.ManagedInstance) bool {
	switch m.CurrentAction {
	case "DELETING", "ABANDONING":
		return true
	}
	return false
}

// PlanRollout works out the plan for group g with members. It fails for a
// group without a single current template (a canary runs several versions,
// and which one a replacement should get is the operator's call).
func PlanRollout(g gce.Group, members []gce.ManagedInstance) (Plan, error) {
	tmpl, ok := g.CurrentTemplate()
	if !ok {
		if len(g.Versions) > 1 {
			return Plan{}, fmt.Errorf("group %s runs %d versions (a canary): finish or undo it first", g.Name, len(g.Versions))
		}
		return Plan{}, errors.New("group " + g.Name + " reports no instance template")
	}
	p := Plan{Template: tmpl, TargetSize: g.TargetSize}
	base := g.BaseInstanceName
	if base == "" {
		base = g.Name
	}
	byName := map[string]gce.ManagedInstance{}
	for _, m := range members {
		byName[m.Name] = m
	}
	replacements := map[string]bool{}
	var outdated []gce.ManagedInstance
	for _, m := range members {
		switch {
		case leaving(m):
			p.Leaving = append(p.Leaving, m)
		case !gce.SameTemplate(m.Template, tmpl):
			// A member whose version GCE does not report counts as
			// outdated: replacing it once costs less than leaving an
			// old template running.
			outdated = append(outdated, m)
		}
	}
	sortByName(outdated)
	for _, m := range outdated {
		s := Step{Old: m, New: ReplacementName(base, m.Name, tmpl)}
		if r, ok := byName[s.New]; ok && !leaving(r) && gce.SameTemplate(r.Template, tmpl) {
			s.Surged = true
			replacements[s.New] = true
		}
		p.Steps = append(p.Steps, s)
	}
	for _, m := range members {
		if !leaving(m) && gce.SameTemplate(m.Template, tmpl) && !replacements[m.Name] {
			p.Current = append(p.Current, m)
		}
	}
	sortByName(p.Current)
	sortByName(p.Leaving)
	return p, nil
}

func sortByName(ms []gce.ManagedInstance) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
}

// replacementSuffixLen is the length of the suffix ReplacementName appends.
// The MIG's own names end in 4 characters, so 6 never collide with them.
const replacementSuffixLen = 6

// ReplacementName is the name of old's replacement on template: base, "-",
// and 6 base-36 characters of SHA-256 of old's name and the template's
// projects/… path, within GCE's 63 characters. The same old member and
// template always give the same name: that is how a rerun recognises the
// surge member it created before it was interrupted.
func ReplacementName(base, old, template string) string {
	sum := sha256.Sum256([]byte(old + "\x00" + templateKey(template)))
	digits := new(big.Int).SetBytes(sum[:]).Text(36)
	suffix := digits[len(digits)-replacementSuffixLen:]
	if limit := 63 - 1 - replacementSuffixLen; len(base) > limit {
		base = strings.TrimRight(base[:limit], "-")
	}
	return base + "-" + suffix
}

// templateKey is the template reference without scheme and host, so that a
// URL and a partial path give the same name.
func templateKey(t string) string {
	if i := strings.Index(t, "projects/"); i >= 0 {
		return t[i:]
	}
	return t
}

// Print writes the plan for an operator, one line per member.
func (p Plan) Print(w io.Writer, g gce.GroupRef) {
	fmt.Fprintf(w, "group %s: template %s, target size %d\n", g, templateKey(p.Template), p.TargetSize)
	for _, m := range p.Current {
		fmt.Fprintf(w, "  keep     %-30s on the current template\n", m.Name)
	}
	for _, s := range p.Steps {
		surge := "create " + s.New
		if s.Surged {
			surge = s.New + " exists"
		}
		fmt.Fprintf(w, "  replace  %-30s on %s: %s, then drain and delete %s\n", s.Old.Name, orUnknown(templateKey(s.Old.Template)), surge, s.Old.Name)
	}
	for _, m := range p.Leaving {
		fmt.Fprintf(w, "  leaving  %-30s %s by the MIG\n", m.Name, strings.ToLower(m.CurrentAction))
	}
	fmt.Fprintf(w, "%d to replace, %d current, %d leaving\n", len(p.Steps), len(p.Current), len(p.Leaving))
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown template"
	}
	return s
}
