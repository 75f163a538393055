package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/naming"
)

// Backoff is the capped exponential delay between retries of one route
// operation; each delay is jittered by ±20 % so that forwarders booting
// together do not retry in step.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

func (b Backoff) delay(attempt int) time.Duration {
	d := b.Initial
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// routeOp is one route operation, named for logs and metrics.
type routeOp struct {
	op   string // insert or delete
	name string
	do   func(ctx context.Context) error
}

// runOps runs ops at most a.opt.Concurrency at a time. Each is retried
// with backoff until it succeeds, until stop is closed (no new attempts;
// the attempt in flight finishes) or until callCtx ends (the attempt in
// flight is cut). It returns nil when every op succeeded, else the last
// error of each op that did not.
func (a *Agent) runOps(callCtx context.Context, stop <-chan struct{}, ops []routeOp) error {
	sem := make(chan struct{}, a.opt.Concurrency)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Go(func() {
			if err := a.retryOp(callCtx, stop, sem, op); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (a *Agent) retryOp(callCtx context.Context, stop <-chan struct{}, sem chan struct{}, op routeOp) error {
	for attempt := 0; ; attempt++ {
		select {
		case sem <- struct{}{}:
		case <-stop:
			return fmt.Errorf("route %s: %s: stopped before it succeeded", op.name, op.op)
		case <-callCtx.Done():
			return fmt.Errorf("route %s: %s: %w", op.name, op.op, callCtx.Err())
		}
		err := a.call(callCtx, op)
		<-sem
		if err == nil {
			return nil
		}
		wait := a.opt.Backoff.delay(attempt)
		a.log.Warn("route operation failed, retrying", logging.Op(op.op), logging.Route(op.name),
			logging.Attempt(attempt+1), logging.RetryIn(wait), logging.Err(err))
		if !pause(callCtx, stop, wait) {
			return err
		}
	}
}

// call makes one attempt with a per-call deadline, logs and counts it.
func (a *Agent) call(ctx context.Context, op routeOp) error {
	ctx, cancel := context.WithTimeout(ctx, a.opt.CallTimeout)
	defer cancel()
	start := time.Now()
	err := op.do(ctx)
	took := time.Since(start)
	if err != nil {
		a.metrics.routeOps.WithLabelValues(op.op, "error").Inc()
		return fmt.Errorf("route %s: %s: %w", op.name, op.op, err)
	}
	a.metrics.routeOps.WithLabelValues(op.op, "ok").Inc()
	a.log.Info("route operation done", logging.Op(op.op), logging.Route(op.name), logging.Duration(took))
	return nil
}

func (a *Agent) insertOps(routes []gce.Route) []routeOp {
	ops := make([]routeOp, 0, len(routes))
	for _, r := range routes {
		ops = append(ops, routeOp{op: "insert", name: r.Name, do: func(ctx context.Context) error {
			return a.opt.Routes.Insert(ctx, r)
		}})
	}
	return ops
}

func (a *Agent) deleteOps(routes []gce.Route) []routeOp {
	ops := make([]routeOp, 0, len(routes))
	for _, r := range routes {
		ops = append(ops, routeOp{op: "delete", name: r.Name, do: func(ctx context.Context) error {
			return a.opt.Routes.Delete(ctx, r.Project, r.Name)
		}})
	}
	return ops
}

// projects returns the projects this agent's routes live in.
func (a *Agent) projects() []string {
	seen := map[string]bool{a.opt.Identity.Project: true}
	out := []string{a.opt.Identity.Project}
	for _, r := range a.wanted {
		if !seen[r.Project] {
			seen[r.Project] = true
			out = append(out, r.Project)
		}
	}
	return out
}

// ownedRoutes lists, in every project of this agent, the routes vpclink
// owns under the prefix that keep(parsed name, marker) selects.
func (a *Agent) ownedRoutes(ctx context.Context, keep func(naming.ParsedName, naming.Marker, gce.Route) bool) ([]gce.Route, error) {
	var out []gce.Route
	var errs []error
	for _, project := range a.projects() {
		lctx, cancel := context.WithTimeout(ctx, a.opt.CallTimeout)
		routes, err := a.opt.Routes.List(lctx, project, a.prefix+"-")
		cancel()
		if err != nil {
			a.metrics.routeOps.WithLabelValues("list", "error").Inc()
			errs = append(errs, fmt.Errorf("project %s: list routes: %w", project, err))
			continue
		}
		a.metrics.routeOps.WithLabelValues("list", "ok").Inc()
		for _, r := range routes {
			if !naming.IsOwned(a.prefix, r.Name, r.Description) {
				continue
			}
			parsed, _ := naming.ParseName(a.prefix, r.Name)
			marker, _ := naming.ParseDescription(r.Description)
			if r.Project == "" {
				r.Project = project
			}
			if keep(parsed, marker, r) {
				out = append(out, r)
			}
		}
	}
	return out, errors.Join(errs...)
}

// isStale reports whether an owned route is one this agent must remove
// after announcing: a route of an earlier incarnation of this instance, or
// a route of this id that the configuration no longer names.
func (a *Agent) isStale(p naming.ParsedName, m naming.Marker, r gce.Route) bool {
	if p.InstanceID == a.opt.Identity.ID {
		return !a.wantedNames[r.Name]
	}
	return a.isEarlierIncarnation(m, r)
}

// isEarlierIncarnation reports whether a route of another instance id names
// this instance: the same name, zone and project. An instance name is unique
// only within one project's zone, so each of zone and project must be stated
// (by the marker, or by the route's next-hop instance URL where the marker,
// written by an older agent, lacks it) and every statement must match. A
// route that does not say where its instance lives is left alone: it may be
// another project's same-named VM (a Shared VPC host project holds routes of
// several service projects).
func (a *Agent) isEarlierIncarnation(m naming.Marker, r gce.Route) bool {
	id := a.opt.Identity
	hop := parseInstanceURL(r.NextHopInstance)
	if m.Instance != id.Name || (hop.name != "" && hop.name != id.Name) {
		return false
	}
	return sameAndStated(id.Zone, m.Zone, hop.zone) && sameAndStated(id.Project, m.Project, hop.project)
}

// sameAndStated reports whether at least one of stated is set and every one
// that is set equals want.
func sameAndStated(want string, stated ...string) bool {
	seen := false
	for _, s := range stated {
		if s == "" {
			continue
		}
		if s != want {
			return false
		}
		seen = true
	}
	return seen
}

// instanceRef is what an instance URL names.
type instanceRef struct{ project, zone, name string }

// parseInstanceURL reads .../projects/P/zones/Z/instances/N; anything else
// gives the zero value.
func parseInstanceURL(u string) instanceRef {
	parts := strings.Split(instancePath(u), "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "zones" || parts[4] != "instances" {
		return instanceRef{}
	}
	return instanceRef{project: parts[1], zone: parts[3], name: parts[5]}
}

// isMine reports whether an owned route carries this instance id.
func (a *Agent) isMine(p naming.ParsedName, _ naming.Marker, _ gce.Route) bool {
	return p.InstanceID == a.opt.Identity.ID
}

// reconcileOwned is one pass after the inserts: it lists the owned routes
// once, re-creates any wanted route that is missing or that differs from
// what is wanted (GCE routes are immutable: a route left by a crashed agent
// with an older config keeps its name but not its priority, tags or next
// hop), then deletes the stale ones. One attempt per call; the caller
// retries the whole pass.
func (a *Agent) reconcileOwned(ctx context.Context) error {
	owned, err := a.ownedRoutes(ctx, func(naming.ParsedName, naming.Marker, gce.Route) bool { return true })
	if err != nil {
		return err
	}
	have := map[string]gce.Route{}
	var stale []gce.Route
	for _, r := range owned {
		p, _ := naming.ParseName(a.prefix, r.Name)
		m, _ := naming.ParseDescription(r.Description)
		if a.isStale(p, m, r) {
			stale = append(stale, r)
		}
		have[r.Name] = r
	}
	var ops []routeOp
	for _, w := range a.wanted {
		h, ok := have[w.Name]
		switch {
		case !ok:
			ops = append(ops, a.insertOps([]gce.Route{w})...)
		case differs(w, h):
			a.log.Info("route differs from the config, replacing", logging.Op("replace"), logging.Route(w.Name))
			ops = append(ops, routeOp{op: "replace", name: w.Name, do: func(ctx context.Context) error {
				if err := a.opt.Routes.Delete(ctx, w.Project, w.Name); err != nil {
					return err
				}
				return a.opt.Routes.Insert(ctx, w)
			}})
		}
	}
	if err := a.callAll(ctx, ops); err != nil {
		return err // stale routes go only once every wanted one is in place
	}
	for _, r := range stale {
		a.log.Info("removing stale route", logging.Op("delete"), logging.Route(r.Name))
	}
	return a.callAll(ctx, a.deleteOps(stale))
}

// callAll makes one attempt of each op, Concurrency at a time, and returns
// every failure.
func (a *Agent) callAll(ctx context.Context, ops []routeOp) error {
	sem := make(chan struct{}, a.opt.Concurrency)
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Go(func() {
			sem <- struct{}{}
			err := a.call(ctx, op)
			<-sem
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// differs reports whether an existing route h is not what w asks for, in
// the fields GCE cannot change in place. The description (agent version)
// does not count: it informs, it does not route.
func differs(w, h gce.Route) bool {
	return naming.NetworkName(w.Network) != naming.NetworkName(h.Network) ||
		w.DestRange != h.DestRange || w.Priority != h.Priority ||
		instancePath(w.NextHopInstance) != instancePath(h.NextHopInstance) || w.NextHopIP != h.NextHopIP ||
		!sameSet(w.Tags, h.Tags)
}

// instancePath drops the scheme and host of an instance URL, so that
// https://www.googleapis.com/compute/v1/projects/... and projects/... match.
func instancePath(u string) string {
	if i := strings.Index(u, "projects/"); i >= 0 {
		return u[i:]
	}
	return u
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// retryPass repeats pass with backoff until it returns nil, stop is closed
// or ctx ends; it returns the last error.
func (a *Agent) retryPass(ctx context.Context, stop <-chan struct{}, what string, pass func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := pass(ctx)
		if err == nil {
			return nil
		}
		wait := a.opt.Backoff.delay(attempt)
		a.log.Warn(what+" failed, retrying", logging.Op(what), logging.Attempt(attempt+1),
			logging.RetryIn(wait), logging.Err(err))
		if !pause(ctx, stop, wait) {
			return err
		}
	}
}

// pause waits d and reports whether it did: false when stop is closed or ctx
// ends first, so a retry loop gives up with its last error.
func pause(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}
