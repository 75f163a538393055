package gcefake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"
)

// GroupSpec describes a managed instance group for CreateGroup: zonal when
// Zone is set, regional when Region is set (its instances spread over Zones,
// default Region-a, -b, -c).
type GroupSpec struct {
	Project    string            `json:"project"`
	Name       string            `json:"name"`
	Zone       string            `json:"zone,omitempty"`
	Region     string            `json:"region,omitempty"`
	Zones      []string          `json:"zones,omitempty"`
	TargetSize int               `json:"targetSize"`
	NICs       []NICSpec         `json:"nics"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	// InstanceTemplate is the group's template: a name or URL (default: the
	// group's name). Members record the template they were created from.
	InstanceTemplate string `json:"instanceTemplate,omitempty"`
	// UpdatePolicy is how a template change reaches existing members
	// (default: OPPORTUNISTIC, maxSurge and maxUnavailable one per zone).
	UpdatePolicy *UpdatePolicy `json:"updatePolicy,omitempty"`
	// AutoHealing, when set, has the fake health-check members and recreate
	// the unhealthy ones.
	AutoHealing *AutoHealing `json:"autoHealing,omitempty"`
	// GracefulShutdown is the default template's shutdown budget (0: the
	// server's ShutdownTimeout).
	GracefulShutdown time.Duration `json:"gracefulShutdown,omitempty"`
	// Paginated makes listManagedInstances honour maxResults/pageToken
	// (listManagedInstancesResults PAGINATED); GCE's default is PAGELESS.
	Paginated bool `json:"paginated,omitempty"`
}

// group is a MIG. Its members are the instances whose Group is its name, in
// its project and zones; it keeps their number at targetSize and, with a
// PROACTIVE update policy, their template at the group's.
type group struct {
	spec     GroupSpec
	zones    []string
	id       uint64
	created  time.Time
	template string // current instance template URL
	policy   UpdatePolicy
	healer   *healer // nil without autohealing
}

func (g *group) location() string {
	if g.spec.Region != "" {
		return g.spec.Region
	}
	return g.spec.Zone
}

func groupKey(project, location, name string) string { return project + "/" + location + "/" + name }

// CreateGroup creates a MIG and starts its instances: each boots
// PROVISIONING → STAGING → RUNNING over BootDelay, then Lifecycle.Started
// is called.
func (s *Server) CreateGroup(spec GroupSpec) error {
	if spec.Project == "" || !resourceName.MatchString(spec.Name) {
		return fmt.Errorf("group %q: project and a valid name are required", spec.Name)
	}
	if (spec.Zone == "") == (spec.Region == "") {
		return fmt.Errorf("group %s: exactly one of zone and region is required", spec.Name)
	}
	if len(spec.NICs) == 0 || spec.TargetSize < 0 {
		return fmt.Errorf("group %s: NICs and a target size >= 0 are required", spec.Name)
	}
	g := &group{spec: spec, zones: []string{spec.Zone}, created: time.Now()}
	g.template = templateURL(spec.Project, spec.InstanceTemplate, spec.Name)
	g.spec.Metadata = maps.Clone(spec.Metadata)
	g.spec.NICs = slices.Clone(spec.NICs)
	if spec.Region != "" {
		g.zones = slices.Clone(spec.Zones)
		if len(g.zones) == 0 {
			g.zones = []string{spec.Region + "-a", spec.Region + "-b", spec.Region + "-c"}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := groupKey(spec.Project, g.location(), spec.Name)
	if s.groups[key] != nil {
		return fmt.Errorf("group %s: already exists", key)
	}
	g.policy = defaultPolicy(len(g.zones))
	if spec.UpdatePolicy != nil {
		if e := g.policy.merge(*spec.UpdatePolicy); e != nil {
			return fmt.Errorf("group %s: %w", spec.Name, e)
		}
	}
	if spec.AutoHealing != nil {
		if err := spec.AutoHealing.validate(); err != nil {
			return fmt.Errorf("group %s: %w", spec.Name, err)
		}
		g.healer = &healer{spec: *spec.AutoHealing}
	}
	g.id = s.newIDLocked()
	s.groups[key] = g
	if g.healer != nil {
		s.goLifecycle(func() { s.heal(g) })
	}
	return s.scaleLocked(g)
}

// DeleteGroup removes an empty group, as instanceGroupManagers.delete does
// once its instances are gone (the REST reference: deleting a MIG deletes
// its instances; the lab empties it first so that every guest shuts down the
// way its design says). Its autohealing stops with it. A group with members
// left is an error: the caller resizes to 0 and waits first.
func (s *Server) DeleteGroup(project, location, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := groupKey(project, location, name)
	g := s.groups[key]
	if g == nil {
		return fmt.Errorf("group %s: not found", key)
	}
	if n := len(s.membersLocked(g)); n > 0 {
		return fmt.Errorf("group %s: %d members left", key, n)
	}
	delete(s.groups, key)
	s.notifyLocked()
	return nil
}

// membersLocked returns g's instances sorted by name.
func (s *Server) membersLocked(g *group) []*instance {
	var out []*instance
	for _, in := range s.instances {
		if in.pub.Group == g.spec.Name && in.pub.Project == g.spec.Project && slices.Contains(g.zones, in.pub.Zone) {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pub.Name < out[j].pub.Name })
	return out
}

func (s *Server) groupOfLocked(in *instance) *group {
	if in.pub.Group == "" {
		return nil
	}
	for _, g := range s.groups {
		if g.spec.Name == in.pub.Group && g.spec.Project == in.pub.Project && slices.Contains(g.zones, in.pub.Zone) {
			return g
		}
	}
	return nil
}

// scaleLocked creates or deletes members until the instances not being
// deleted number targetSize, and drives a PROACTIVE update (see
// updateLocked). Scale-in picks instances that are not RUNNING first, then
// those on an older template, then the newest. It runs after every change
// that may call for an action: a resize, a member's start, verification or
// removal, a template or policy change.
func (s *Server) scaleLocked(g *group) error {
	var keep []*instance
	for _, in := range s.membersLocked(g) {
		if in.action != "DELETING" {
			keep = append(keep, in)
		}
	}
	var errs []error
	for n := len(keep); n < g.spec.TargetSize; n++ {
		in, err := s.createMemberLocked(g, s.emptiestZoneLocked(g), "", "CREATING")
		if err != nil {
			errs = append(errs, err)
			break
		}
		keep = append(keep, in)
	}
	keep, updating := s.updateLocked(g, keep)
	allowed := g.spec.TargetSize
	if updating {
		allowed += g.policy.surge()
	}
	if extra := len(keep) - allowed; extra > 0 {
		sort.SliceStable(keep, func(i, j int) bool {
			ri, rj := keep[i].pub.Status == StatusRunning, keep[j].pub.Status == StatusRunning
			if ri != rj {
				return !ri
			}
			if oi, oj := keep[i].template != g.template, keep[j].template != g.template; oi != oj {
				return oi
			}
			return keep[i].pub.CreationTimestamp.After(keep[j].pub.CreationTimestamp)
		})
		for _, in := range keep[:extra] {
			s.stopMemberLocked(in, "DELETING")
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("group %s: %w", g.spec.Name, errs[0])
	}
	return nil
}

// emptiestZoneLocked returns the zone of g with the fewest members, so that
// regional groups spread evenly.
func (s *Server) emptiestZoneLocked(g *group) string {
	count := map[string]int{}
	for _, in := range s.membersLocked(g) {
		if in.action != "DELETING" {
			count[in.pub.Zone]++
		}
	}
	best := g.zones[0]
	for _, z := range g.zones[1:] {
		if count[z] < count[best] {
			best = z
		}
	}
	return best
}

const nameAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// createMemberLocked creates a member in zone from the group's current
// template, named name or, when empty, <group>-<4 random lowercase alnum>
// like a MIG, and starts its boot. action is CREATING, or RECREATING for a
// new incarnation of a recreated member (GCE reports RECREATING until the
// new VM runs).
func (s *Server) createMemberLocked(g *group, zone, name, action string) (*instance, error) {
	for name == "" || s.instances[instKey(g.spec.Project, zone, name)] != nil {
		b := make([]byte, 4)
		for i := range b {
			b[i] = nameAlphabet[s.rng.IntN(len(nameAlphabet))]
		}
		name = g.spec.Name + "-" + string(b)
	}
	in, err := s.newInstanceLocked(g.spec.Project, zone, name, g.spec.Name, g.spec.NICs, s.templateMetadataLocked(g), StatusProvisioning)
	if err != nil {
		return nil, err
	}
	in.action = action
	in.template = g.template
	in.budget = s.shutdownBudgetLocked(g)
	in.hidden = s.opts.BootDelay > 0
	if s.opts.BootDelay <= 0 {
		// Booting at once: RUNNING before the caller sees the member, so
		// that a zero-delay fake has no window in which it is CREATING.
		s.setStatusLocked(in, StatusRunning)
		in.action = runningAction(g)
	}
	seq := in.bootSeq
	s.goLifecycle(func() { s.boot(in, seq) })
	return in, nil
}

// goLifecycle runs f on a goroutine that Close waits for.
func (s *Server) goLifecycle(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// sleep waits d or until Close; it reports whether the server still runs.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// boot moves a new member to STAGING halfway through BootDelay and to
// RUNNING at its end, then calls Lifecycle.Started. The VM exists for the
// API (instances.get, an id and instanceStatus in listManagedInstances)
// from STAGING on: GCE lists a member being created with its instance URL
// and currentAction CREATING but without id or instanceStatus until its VM
// is created (ManagedInstance in the REST reference: id and instanceStatus
// are "[Output Only]" and set "if the instance exists"). On RUNNING the
// member is VERIFYING while its group's autohealing health check is pending
// (ManagedInstance.currentAction VERIFYING: "The managed instance group has
// created the instance and it is in the process of being verified"), NONE
// without autohealing. boot gives up if the instance was deleted or
// recreated meanwhile.
func (s *Server) boot(in *instance, seq uint64) {
	step := func(status string) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.instances[in.key()] != in || in.bootSeq != seq {
			return false
		}
		in.hidden = false
		s.setStatusLocked(in, status)
		if status == StatusRunning {
			g := s.groupOfLocked(in)
			in.action = runningAction(g)
			if g != nil {
				_ = s.scaleLocked(g)
			}
		}
		return true
	}
	if s.opts.BootDelay > 0 {
		if !s.sleep(s.opts.BootDelay/2) || !step(StatusStaging) {
			return
		}
		if !s.sleep(s.opts.BootDelay-s.opts.BootDelay/2) || !step(StatusRunning) {
			return
		}
	}
	s.log.Info("instance running", logInstance(in)...)
	if lc := s.opts.Lifecycle; lc != nil && in.pub.Group != "" {
		s.mu.Lock()
		if s.closed || s.instances[in.key()] != in || in.pub.Status != StatusRunning || in.bootSeq != seq {
			s.mu.Unlock()
			return
		}
		started := make(chan struct{})
		in.started = started
		snap := in.snapshot()
		s.mu.Unlock()
		lc.Started(snap)
		close(started)
	}
}

// stopMemberLocked starts deleting (or recreating) a member: STOPPING, the
// guest's shutdown via Lifecycle.Stopping (bounded by the member's shutdown
// budget, see shutdownBudgetLocked), TERMINATED and removal; for a
// recreate, a new incarnation with the same name and a new id then boots,
// still RECREATING until it runs.
func (s *Server) stopMemberLocked(in *instance, action string) {
	if in.action == "DELETING" || in.action == "RECREATING" {
		if action == "DELETING" {
			in.action = action // a delete overrides a pending recreate
		}
		return
	}
	in.action = action
	in.bootSeq++ // a boot still under way stops here
	started, budget := in.started, in.budget
	if budget <= 0 {
		budget = s.opts.ShutdownTimeout
	}
	s.setStatusLocked(in, StatusStopping)
	snap := in.snapshot()
	s.goLifecycle(func() {
		if lc := s.opts.Lifecycle; lc != nil && started != nil {
			ctx, cancel := context.WithTimeout(s.ctx, budget)
			// A guest still starting is stopped once its start returned,
			// so that the embedder never sees Stopping before Started ends.
			select {
			case <-started:
				lc.Stopping(ctx, snap)
			case <-ctx.Done():
			}
			cancel()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.instances[in.key()] != in {
			return // Close, or DeleteInstance removed it (and the group replaced it)
		}
		action := in.action
		s.removeLocked(in)
		s.log.Info("instance removed", logInstance(in)...)
		g := s.groupOfLocked(in)
		if action == "RECREATING" && g != nil {
			if _, err := s.createMemberLocked(g, in.pub.Zone, in.pub.Name, "RECREATING"); err != nil {
				s.log.Error("recreate failed", append(logInstance(in), errField(err))...)
			}
		}
		if g != nil {
			_ = s.scaleLocked(g)
		}
	})
}

// runningAction is a member's currentAction once RUNNING: VERIFYING while
// its group's autohealing check is pending, else NONE.
func runningAction(g *group) string {
	if g != nil && g.healer != nil {
		return "VERIFYING"
	}
	return "NONE"
}
