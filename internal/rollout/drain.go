package rollout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
)

// Drain marks instance project/zone/name drained and withdraws its routes:
// it sets the drain mark (keeping one already there), deletes every owned
// route of its current incarnation, waits until listing shows none (GCE
// reports them deleted), then waits grace while the forwarder keeps
// forwarding the flows still in flight to it. It returns how many routes it
// deleted; draining a drained instance deletes none and succeeds.
func (o *Ops) Drain(ctx context.Context, project, zone, name string, grace time.Duration) (int, error) {
	o.defaults()
	inst, err := o.Instances.Get(ctx, project, zone, name)
	if err != nil {
		return 0, fmt.Errorf("instance %s/%s/%s: get: %w", project, zone, name, err)
	}
	if err := o.mark(ctx, project, inst); err != nil {
		return 0, err
	}
	return o.drainInstance(ctx, project, inst, grace)
}

// mark sets the drain mark on inst and says what it did.
func (o *Ops) mark(ctx context.Context, project string, inst gce.Instance) error {
	value, changed, err := o.Mark(ctx, project, inst.Zone, inst.Name)
	if err != nil {
		return fmt.Errorf("drain %s: mark: %w", inst.Name, err)
	}
	if changed {
		o.printf("drain %s: marked %s=%q: its agent stops announcing, no reconciler restores its routes", inst.Name, gce.DrainMetadataKey, value)
	} else {
		o.printf("drain %s: already marked %s=%q", inst.Name, gce.DrainMetadataKey, value)
	}
	return nil
}

// Undrain clears the drain mark of instance project/zone/name, after which
// its agent announces its routes again. With wait > 0 it then waits up to
// wait until the current incarnation has owned routes again. It reports
// whether there was a mark to clear; undraining an unmarked instance
// succeeds.
func (o *Ops) Undrain(ctx context.Context, project, zone, name string, wait time.Duration) (bool, error) {
	o.defaults()
	was, changed, err := o.Unmark(ctx, project, zone, name)
	if err != nil {
		return false, fmt.Errorf("undrain %s: %w", name, err)
	}
	if changed {
		o.printf("undrain %s: removed %s=%q: its agent announces again", name, gce.DrainMetadataKey, was)
	} else {
		o.printf("undrain %s: not marked, nothing to clear", name)
	}
	if wait <= 0 {
		return changed, nil
	}
	inst, err := o.Instances.Get(ctx, project, zone, name)
	if err != nil {
		return changed, fmt.Errorf("undrain %s: get: %w", name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	began := o.Now()
	if err := o.waitRoutes(wctx, project, inst, 1); err != nil {
		return changed, fmt.Errorf("undrain %s: %w", name, err)
	}
	o.printf("undrain %s: routes back after %s", name, o.Now().Sub(began).Round(time.Millisecond))
	return changed, nil
}

func (o *Ops) drainInstance(ctx context.Context, project string, inst gce.Instance, grace time.Duration) (int, error) {
	deleted := 0
	// gone are the routes this drain deleted: one listed again, or one
	// never listed before, was put back (an agent that had not seen the
	// mark yet). busy are routes whose
	// delete GCE refused as resourceNotReady: another operation on them
	// runs, most often the agent's own withdrawal that the mark started,
	// so they are waited for, not reported as errors or as reappearing.
	gone, busy, seen := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for round := 0; ; round++ {
		routes, err := o.ownedRoutes(ctx, project, inst.ID)
		if err != nil {
			return deleted, fmt.Errorf("drain %s: %w", inst.Name, err)
		}
		if len(routes) == 0 {
			break
		}
		back := 0
		for _, r := range routes {
			if gone[r.Name] || (round > 0 && !seen[r.Name]) {
				back++
				delete(gone, r.Name)
			}
			seen[r.Name] = true
		}
		switch {
		case round == 0:
			o.printf("drain %s (id %d): withdrawing %d routes", inst.Name, inst.ID, len(routes))
		case back > 0:
			o.printf("drain %s: %d routes reappeared, withdrawing again", inst.Name, back)
		}
		res := o.deleteAll(ctx, inst.Name, routes, busy)
		deleted += len(res.deleted)
		for _, name := range res.deleted {
			gone[name] = true
		}
		var newlyBusy int
		for _, name := range res.busy {
			if !busy[name] {
				newlyBusy++
			}
			busy[name] = true
		}
		if newlyBusy > 0 {
			o.printf("drain %s: %d routes already being deleted (by its agent): waiting for them", inst.Name, newlyBusy)
		}
		// Report failures; the next round retries until the deadline.
		for _, e := range res.errs {
			o.printf("drain %s: %v", inst.Name, e)
		}
		if len(res.errs) > 0 || len(res.busy) > 0 {
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

// deleteResult is what one round of deletes did: routes deleted (DONE),
// routes another operation is changing (resourceNotReady), other failures.
type deleteResult struct {
	deleted, busy []string
	errs          []error
}

// deleteAll deletes routes concurrently, printing each as it is DONE. A
// route in busy was being deleted by another operation in an earlier round:
// a success now most often means that operation finished (the client takes
// 404 as success), so it is neither counted nor printed as this drain's.
func (o *Ops) deleteAll(ctx context.Context, instance string, routes []gce.Route, busy map[string]bool) deleteResult {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		res deleteResult
		sem = make(chan struct{}, maxConcurrentDeletes)
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
			switch {
			case err == nil && busy[r.Name]:
			case err == nil:
				res.deleted = append(res.deleted, r.Name)
				o.printf("drain %s: route %s (%s) deleted", instance, r.Name, r.DestRange)
			case gce.IsNotReady(err):
				res.busy = append(res.busy, r.Name)
			default:
				res.errs = append(res.errs, fmt.Errorf("route %s: delete: %w", r.Name, err))
			}
		}()
	}
	wg.Wait()
	return res
}
