// Package rollout holds the operator's planned operations on forwarders:
// drain (withdraw one forwarder's routes while it keeps forwarding) and
// rollout (replace a group's forwarders one at a time). The CLI commands
// `vpclink drain` and `vpclink rollout` and the lab's rolling-update scenario
// use the same code.
//
// Choices DESIGN.md leaves open:
//   - Drain deletes only routes vpclink owns (prefix and marker) whose name
//     carries the instance's current id; routes of older incarnations are the
//     reconciler's to prune.
//   - "GCE reports them deleted" is checked by listing again after the
//     deletes' operations are DONE, so a route inserted meanwhile (a racing
//     agent or reconciler restore) is deleted too, up to the deadline.
//   - Rollout goes in instance-name order, one at a time, and stops at the
//     first forwarder that does not come back routing and ready: carrying on
//     would take capacity away while it is already short.
//   - A drained forwarder that stays up is restored by the reconciler on its
//     next pass if it is healthy and asks for its routes: drain is meant to be
//     followed by a stop or recreate, as rollout does.
package rollout

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// Ops runs drains and rollouts against the Compute API.
type Ops struct {
	Routes    gce.Routes
	Instances gce.Instances
	Groups    gce.Groups
	// RoutePrefix is the prefix of owned route names (default vpclink).
	RoutePrefix string
	// RouteProjects are the projects the forwarders' routes live in
	// (default: the instance's project). A Shared VPC host project differs.
	RouteProjects []string
	// Out receives one progress line per step.
	Out io.Writer
	// Poll is how often waits look again (default 1s).
	Poll time.Duration
	// Ready reports whether a new forwarder answers its readiness check;
	// nil skips the check.
	Ready func(ctx context.Context, inst gce.Instance) error
	// Now is the clock (default time.Now), for progress lines.
	Now func() time.Time
}

func (o *Ops) defaults() {
	if o.RoutePrefix == "" {
		o.RoutePrefix = "vpclink"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func (o *Ops) printf(format string, args ...any) {
	fmt.Fprintf(o.Out, "%s "+format+"\n", append([]any{o.Now().UTC().Format("15:04:05.000")}, args...)...)
}

func (o *Ops) projects(instanceProject string) []string {
	if len(o.RouteProjects) > 0 {
		return o.RouteProjects
	}
	return []string{instanceProject}
}

// ownedRoutes lists the owned routes of instance id in every route project.
func (o *Ops) ownedRoutes(ctx context.Context, instanceProject string, id instanceid.ID) ([]gce.Route, error) {
	namePrefix := o.RoutePrefix + "-" + id.String() + "-"
	var out []gce.Route
	for _, p := range o.projects(instanceProject) {
		routes, err := o.Routes.List(ctx, p, namePrefix)
		if err != nil {
			return nil, fmt.Errorf("routes %s*: list in %s: %w", namePrefix, p, err)
		}
		for _, r := range routes {
			if r.Project == "" {
				r.Project = p
			}
			if naming.IsOwned(o.RoutePrefix, r.Name, r.Description) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Drain withdraws the routes of instance project/zone/name: it deletes every
// owned route of its current incarnation, waits until listing shows none
// (GCE reports them deleted), then waits grace while the forwarder keeps
// forwarding the flows still in flight to it. It returns how many routes
// it deleted.
func (o *Ops) Drain(ctx context.Context, project, zone, name string, grace time.Duration) (int, error) {
	o.defaults()
	inst, err := o.Instances.Get(ctx, project, zone, name)
	if err != nil {
		return 0, fmt.Errorf("instance %s/%s/%s: get: %w", project, zone, name, err)
	}
	return o.drainInstance(ctx, project, inst, grace)
}

func (o *Ops) drainInstance(ctx context.Context, project string, inst gce.Instance, grace time.Duration) (int, error) {
	deleted := 0
	for round := 0; ; round++ {
		routes, err := o.ownedRoutes(ctx, project, inst.ID)
		if err != nil {
			return deleted, fmt.Errorf("drain %s: %w", inst.Name, err)
		}
		if len(routes) == 0 {
			break
		}
		if round == 0 {
			o.printf("drain %s (id %d): withdrawing %d routes", inst.Name, inst.ID, len(routes))
		} else {
			o.printf("drain %s: %d routes reappeared, withdrawing again", inst.Name, len(routes))
		}
		n, errs := o.deleteAll(ctx, inst.Name, routes)
		deleted += n
		if len(errs) > 0 {
			// Report them all; the next round retries until the deadline.
			for _, e := range errs {
				o.printf("drain %s: %v", inst.Name, e)
			}
			if err := sleep(ctx, o.Poll); err != nil {
				return deleted, fmt.Errorf("drain %s: %w", inst.Name, err)
			}
		}
	}
	o.printf("drain %s: no routes left; grace %s while it still forwards", inst.Name, grace)
	if err := sleep(ctx, grace); err != nil {
		return deleted, fmt.Errorf("drain %s: grace: %w", inst.Name, err)
	}
	o.printf("drain %s: drained", inst.Name)
	return deleted, nil
}

// maxConcurrentDeletes caps the deletes one drain has in flight: each waits
// for its operation, so doing them together makes a drain as long as one
// delete rather than the sum of them.
const maxConcurrentDeletes = 8

// deleteAll deletes routes concurrently, printing each as it is DONE, and
// returns how many it deleted and every failure.
func (o *Ops) deleteAll(ctx context.Context, instance string, routes []gce.Route) (int, []error) {
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		deleted int
		errs    []error
		sem     = make(chan struct{}, maxConcurrentDeletes)
	)
	for _, r := range routes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := o.Routes.Delete(ctx, r.Project, r.Name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("route %s: delete: %w", r.Name, err))
				return
			}
			deleted++
			o.printf("drain %s: route %s (%s) deleted", instance, r.Name, r.DestRange)
		}()
	}
	wg.Wait()
	return deleted, errs
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
