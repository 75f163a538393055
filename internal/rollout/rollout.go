package rollout

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
)

// Rollout replaces the forwarders of group g one at a time: drain (routes
// withdrawn while it still forwards), recreate, then wait until the new
// incarnation is RUNNING, has its routes and answers Ready, before the next.
// timeout bounds each forwarder's wait for its replacement.
func (o *Ops) Rollout(ctx context.Context, g gce.GroupRef, grace, timeout time.Duration) error {
	o.defaults()
	members, err := o.Groups.ListManagedInstances(ctx, g)
	if err != nil {
		return fmt.Errorf("rollout %s: %w", g, err)
	}
	sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })
	o.printf("rollout %s: %d forwarders", g, len(members))
	for i, m := range members {
		o.printf("rollout %s: [%d/%d] %s", g, i+1, len(members), m.Name)
		if err := o.replace(ctx, g, m, grace, timeout); err != nil {
			return fmt.Errorf("rollout %s: %s: %w", g, m.Name, err)
		}
	}
	o.printf("rollout %s: done", g)
	return nil
}

func (o *Ops) replace(ctx context.Context, g gce.GroupRef, m gce.ManagedInstance, grace, timeout time.Duration) error {
	zone := m.Zone
	if zone == "" {
		zone = g.Zone
	}
	inst, err := o.Instances.Get(ctx, g.Project, zone, m.Name)
	if err != nil {
		return fmt.Errorf("instance %s: get: %w", m.Name, err)
	}
	had, err := o.drainInstance(ctx, g.Project, inst, grace)
	if err != nil {
		return err
	}
	o.printf("recreate %s", m.Name)
	if err := o.Groups.RecreateInstances(ctx, g, []string{inst.SelfLink}); err != nil {
		return fmt.Errorf("recreate: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := o.Now()
	fresh, err := o.waitRunning(wctx, g, zone, m.Name, inst.ID)
	if err != nil {
		return err
	}
	o.printf("%s: new incarnation id %d RUNNING after %s", m.Name, fresh.ID, o.Now().Sub(started).Round(time.Millisecond))
	want := max(had, 1)
	if err := o.waitRoutes(wctx, g.Project, fresh, want); err != nil {
		return err
	}
	o.printf("%s: %d routes exist after %s", m.Name, want, o.Now().Sub(started).Round(time.Millisecond))
	if o.Ready != nil {
		if err := o.waitReady(wctx, fresh); err != nil {
			return err
		}
		o.printf("%s: ready after %s", m.Name, o.Now().Sub(started).Round(time.Millisecond))
	}
	return nil
}

// waitRunning waits until the group's member name is a new incarnation (an
// id other than oldID) that is RUNNING with no MIG action pending.
func (o *Ops) waitRunning(ctx context.Context, g gce.GroupRef, zone, name string, oldID instanceid.ID) (gce.Instance, error) {
	var lastErr error
	for {
		members, err := o.Groups.ListManagedInstances(ctx, g)
		lastErr = err
		if err == nil {
			for _, m := range members {
				if m.Name == name && m.ID != 0 && m.ID != oldID && m.Status == "RUNNING" && (m.CurrentAction == "" || m.CurrentAction == "NONE") {
					inst, err := o.Instances.Get(ctx, g.Project, zone, name)
					if err == nil && inst.ID == m.ID && inst.Status == "RUNNING" {
						return inst, nil
					}
				}
			}
		}
		if err := sleep(ctx, o.Poll); err != nil {
			return gce.Instance{}, fmt.Errorf("waiting for %s to be recreated and RUNNING: %w (last list error: %v)", name, err, lastErr)
		}
	}
}

// waitRoutes waits until the new incarnation has at least want owned routes.
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

// waitReady waits until Ready accepts the new incarnation.
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
