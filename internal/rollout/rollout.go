package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
)

// ErrProactive is returned for a group whose update policy is PROACTIVE:
// its MIG replaces outdated members itself (within maxSurge and
// maxUnavailable), and a rollout beside it would race it.
var ErrProactive = errors.New("update policy PROACTIVE: the MIG replaces outdated members itself")

// PlanRollout reads group g and its members and returns what a rollout has
// left to do.
func (o *Ops) PlanRollout(ctx context.Context, g gce.GroupRef) (Plan, gce.Group, error) {
	group, err := o.Groups.Get(ctx, g)
	if err != nil {
		return Plan{}, gce.Group{}, err
	}
	members, err := o.Groups.ListManagedInstances(ctx, g)
	if err != nil {
		return Plan{}, group, err
	}
	p, err := PlanRollout(group, members)
	if err != nil {
		return Plan{}, group, fmt.Errorf("group %s: %w", g, err)
	}
	return p, group, nil
}

// Rollout replaces the members of group g that are not on its current
// instance template, one at a time and surge first: it creates the
// replacement (target size +1), waits until it is RUNNING, has its routes and
// answers Ready, then drains the old member (mark, withdraw, grace) and
// deletes it (target size back). The group therefore never has fewer
// forwarders carrying traffic than its target size. timeout bounds each
// member's wait for its replacement and for its delete. A rerun after an
// interruption continues where it stopped (see Plan).
func (o *Ops) Rollout(ctx context.Context, g gce.GroupRef, grace, timeout time.Duration) error {
	o.defaults()
	p, group, err := o.PlanRollout(ctx, g)
	if err != nil {
		return fmt.Errorf("rollout %s: %w", g, err)
	}
	if group.UpdatePolicy.Type == "PROACTIVE" {
		return fmt.Errorf("rollout %s: %w (maxSurge %d, maxUnavailable %d); follow it with `vpclink status`, or set the policy to OPPORTUNISTIC to roll out with vpclink",
			g, ErrProactive, group.UpdatePolicy.MaxSurge.Calculated, group.UpdatePolicy.MaxUnavailable.Calculated)
	}
	o.printf("rollout %s: template %s: %d to replace, %d current, %d leaving", g, templateKey(p.Template), len(p.Steps), len(p.Current), len(p.Leaving))
	for i, s := range p.Steps {
		tag := fmt.Sprintf("rollout %s: [%d/%d] %s", g, i+1, len(p.Steps), s.Old.Name)
		if err := o.step(ctx, g, s, tag, grace, timeout); err != nil {
			return fmt.Errorf("rollout %s: %s: %w", g, s.Old.Name, err)
		}
	}
	o.printf("rollout %s: done, every member on %s", g, templateKey(p.Template))
	return nil
}

// step replaces s.Old by s.New, picking up whatever an earlier run left.
func (o *Ops) step(ctx context.Context, g gce.GroupRef, s Step, tag string, grace, timeout time.Duration) error {
	zone := s.Old.Zone
	if zone == "" {
		zone = g.Zone
	}
	old, err := o.Instances.Get(ctx, g.Project, zone, s.Old.Name)
	if err != nil {
		return fmt.Errorf("instance %s: get: %w", s.Old.Name, err)
	}
	had, err := o.ownedRoutes(ctx, g.Project, old.ID)
	if err != nil {
		return err
	}
	if s.Surged {
		o.printf("%s: replacement %s exists (an earlier run created it)", tag, s.New)
	} else {
		o.printf("%s: creating replacement %s", tag, s.New)
		// An earlier run stopped while its create was in flight may have
		// made it already: that is the member wanted, not a failure.
		if err := o.Groups.CreateInstances(ctx, g, []string{s.New}); err != nil && !gce.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", s.New, err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := o.Now()
	fresh, err := o.waitMember(wctx, g, s.New)
	if err != nil {
		return err
	}
	o.printf("%s: %s (id %d) RUNNING after %s", tag, s.New, fresh.ID, o.Now().Sub(started).Round(time.Millisecond))
	// With a readiness check, one route in GCE shows the replacement
	// routes and its /readyz (200 once every route is announced) shows the
	// rest, whatever the new template announces. Without one, GCE's view is
	// all there is: as many routes as the old member had (at least one; a
	// drained old member has none).
	want := 1
	if o.Ready == nil {
		want = max(len(had), 1)
	}
	if err := o.waitRoutes(wctx, g.Project, fresh, want); err != nil {
		return err
	}
	o.printf("%s: %s has %d routes after %s", tag, s.New, want, o.Now().Sub(started).Round(time.Millisecond))
	if o.Ready != nil {
		if err := o.waitReady(wctx, fresh); err != nil {
			return err
		}
		o.printf("%s: %s ready after %s", tag, s.New, o.Now().Sub(started).Round(time.Millisecond))
	}
	if err := o.mark(ctx, g.Project, old); err != nil {
		return err
	}
	if _, err := o.drainInstance(ctx, g.Project, old, grace); err != nil {
		return err
	}
	o.printf("%s: deleting %s", tag, s.Old.Name)
	if err := o.Groups.DeleteInstances(ctx, g, []string{old.SelfLink}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	dctx, cancel2 := context.WithTimeout(ctx, timeout)
	defer cancel2()
	if err := o.waitGone(dctx, g, s.Old.Name); err != nil {
		return err
	}
	o.printf("%s: replaced by %s", tag, s.New)
	return nil
}

// waitMember waits until the group's member name is RUNNING with no MIG
// action pending, and returns it as the instances API reports it.
func (o *Ops) waitMember(ctx context.Context, g gce.GroupRef, name string) (gce.Instance, error) {
	var lastErr error
	for {
		members, err := o.Groups.ListManagedInstances(ctx, g)
		lastErr = err
		for _, m := range members {
			if m.Name == name && m.ID != 0 && m.Status == "RUNNING" && (m.CurrentAction == "" || m.CurrentAction == "NONE") {
				zone := m.Zone
				if zone == "" {
					zone = g.Zone
				}
				inst, err := o.Instances.Get(ctx, g.Project, zone, name)
				if err == nil && inst.ID == m.ID && inst.Status == "RUNNING" {
					return inst, nil
				}
				lastErr = err
			}
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return gce.Instance{}, fmt.Errorf("waiting for %s to be RUNNING: %w (last error: %v)", name, err, lastErr)
		}
	}
}

// waitGone waits until name is no longer a member of the group.
func (o *Ops) waitGone(ctx context.Context, g gce.GroupRef, name string) error {
	for {
		members, err := o.Groups.ListManagedInstances(ctx, g)
		if err == nil && !hasMember(members, name) {
			return nil
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return fmt.Errorf("waiting for %s to leave the group: %w", name, err)
		}
	}
}

func hasMember(ms []gce.ManagedInstance, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
	}
	return false
}

// waitRoutes waits until the incarnation inst has at least want owned routes.
func (o *Ops) waitRoutes(ctx context.Context, project string, inst gce.Instance, want int) error {
	for {
		routes, err := o.ownedRoutes(ctx, project, inst.ID)
		if err == nil && len(routes) >= want {
			return nil
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return fmt.Errorf("waiting for %d routes of %s (id %d): have %d: %w", want, inst.Name, inst.ID, len(routes), err)
		}
	}
}

// waitReady waits until Ready accepts inst.
func (o *Ops) waitReady(ctx context.Context, inst gce.Instance) error {
	var last error
	for {
		if last = o.Ready(ctx, inst); last == nil {
			return nil
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return fmt.Errorf("waiting for %s to be ready: %w (last: %v)", inst.Name, err, last)
		}
	}
}
