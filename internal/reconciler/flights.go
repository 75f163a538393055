package reconciler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/health"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// Route operations run in the background, one goroutine each, tracked per
// route (DESIGN.md invariant 11):
//
//   - An action is issued as soon as it is decided; no pass waits for the
//     operations of an earlier one. An action whose route already has the
//     same operation in flight is not issued again.
//   - Deletes and inserts draw on separate slots (DeleteConcurrency,
//     Concurrency), so a delete never waits for an insert's slot; deletes
//     get many, since a delete must not wait at all.
//   - An insert is never issued while a delete of the same route is in
//     flight: a restore must not resurrect what a prune is removing. A
//     delete is issued whatever insert is in flight.
//   - An action on a snapshot taken before the same operation on the same
//     route last succeeded is not issued again: the snapshot predates it.
//   - A delete of a route whose insert is in flight waits for that insert:
//     GCE refuses to delete a route still being inserted (400
//     resourceNotReady), so issuing it earlier gains nothing. A delete
//     refused as not ready for another writer's operation is retried every
//     RateLimitRetry or so, for up to CallTimeout.
//   - A delete ordered After an insert (a stale incarnation's route, new
//     before old) waits for that insert, and is skipped if it fails.
//   - A delete refused with a rate limit (429, 403 rateLimitExceeded) keeps
//     trying, every RateLimitRetry or so, until it lands; while any delete
//     waits so, no insert is issued, so that when the window opens the
//     prune spends it first.

// flightKey names one operation on one route.
type flightKey struct {
	op    routeplan.Op
	route string
}

// flight is one issued operation.
type flight struct {
	action routeplan.Action
	after  *flight // the insert a delete waits for, or nil
	// sameRoute is an insert of the same route in flight when this delete
	// was dispatched: GCE deletes it only once it is DONE.
	sameRoute *flight
	// streakStart is when the failure streak behind a probe prune began.
	streakStart time.Time
	done        chan struct{}
	// Set before done is closed.
	err     error
	skipped bool
	issued  time.Time
	ended   time.Time
}

type flights struct {
	mu sync.Mutex
	m  map[flightKey]*flight
	// succeeded holds when each operation last succeeded, for recentWindow.
	succeeded map[flightKey]time.Time

	deleteSlots chan struct{}
	insertSlots chan struct{}
	// rateLimited counts deletes waiting for a rate-limit window; inserts
	// wait while it is above zero.
	rateLimited atomic.Int32
	wg          sync.WaitGroup
}

func newFlights(deletes, inserts int) *flights {
	return &flights{
		m:           map[flightKey]*flight{},
		succeeded:   map[flightKey]time.Time{},
		deleteSlots: make(chan struct{}, deletes),
		insertSlots: make(chan struct{}, inserts),
	}
}

// inFlight reports whether op on route is running.
func (fs *flights) inFlight(op routeplan.Op, route string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.m[flightKey{op, route}] != nil
}

// count returns how many operations op are in flight or waiting for a slot.
func (fs *flights) count(op routeplan.Op) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for k := range fs.m {
		if k.op == op {
			n++
		}
	}
	return n
}

// recentWindow is how long a success is remembered; a snapshot is never
// older than a pass (CallTimeout bounds its reads).
const recentWindow = 5 * time.Minute

// dispatch issues the actions that are not already in flight and returns
// an outcome per action: InFlight for those running from before or done
// since the snapshot was taken, Skipped for inserts of a route being
// deleted, Pending for those issued now (with their flights, to wait on).
// states give the streaks behind probe prunes.
func (r *Reconciler) dispatch(ctx context.Context, actions []routeplan.Action, states map[instanceid.ID]health.State, taken time.Time) ([]Outcome, []*flight) {
	fs := r.flights
	out := make([]Outcome, len(actions))
	var started []*flight
	fs.mu.Lock()
	for key, at := range fs.succeeded {
		if time.Since(at) > recentWindow {
			delete(fs.succeeded, key)
		}
	}
	for i, a := range actions {
		out[i].Action = a
		key := flightKey{a.Op, a.Route.Name}
		if fs.m[key] != nil || fs.succeeded[key].After(taken) {
			out[i].InFlight = true
			continue
		}
		if a.Op == routeplan.OpInsert && fs.m[flightKey{routeplan.OpDelete, a.Route.Name}] != nil {
			out[i].Skipped = true
			continue
		}
		f := &flight{action: a, done: make(chan struct{})}
		if a.Op == routeplan.OpDelete {
			f.sameRoute = fs.m[flightKey{routeplan.OpInsert, a.Route.Name}]
		}
		if a.After != "" {
			f.after = fs.m[flightKey{routeplan.OpInsert, a.After}]
			if f.after == nil {
				out[i].Skipped = true // its insert is not running: re-planned next pass
				continue
			}
		}
		if a.Evidence == routeplan.EvidenceProbe {
			f.streakStart = states[a.InstanceID].StreakStart
		}
		fs.m[key] = f
		out[i].Pending = true
		started = append(started, f)
	}
	fs.mu.Unlock()
	for _, f := range started {
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			r.fly(ctx, f)
		}()
	}
	return out, started
}

// fly runs one flight to its end and forgets it.
func (r *Reconciler) fly(ctx context.Context, f *flight) {
	fs := r.flights
	defer func() {
		f.ended = time.Now()
		key := flightKey{f.action.Op, f.action.Route.Name}
		fs.mu.Lock()
		delete(fs.m, key)
		if f.err == nil && !f.skipped {
			fs.succeeded[key] = f.ended
		}
		fs.mu.Unlock()
		close(f.done)
	}()
	if f.after != nil {
		select {
		case <-f.after.done:
		case <-ctx.Done():
			f.skipped = true
			return
		}
		if f.after.err != nil || f.after.skipped {
			f.skipped = true
			return
		}
	}
	if f.sameRoute != nil {
		select {
		case <-f.sameRoute.done:
		case <-ctx.Done():
			f.skipped = true
			return
		}
	}
	slots := fs.deleteSlots
	if f.action.Op == routeplan.OpInsert {
		slots = fs.insertSlots
	}
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		f.skipped = true
		return
	}
	defer func() { <-slots }()
	if f.action.Op == routeplan.OpInsert && !r.waitNoRateLimitedDelete(ctx) {
		f.skipped = true
		return
	}
	f.issued = time.Now()
	r.noteIssued(f)
	f.err = r.do(ctx, f.action)
	if f.err == nil && !f.streakStart.IsZero() {
		r.metrics.detectionToPrune.Observe(time.Since(f.streakStart).Seconds())
	}
}

// waitNoRateLimitedDelete holds an insert while a delete waits for a
// rate-limit window; false when ctx ended first.
func (r *Reconciler) waitNoRateLimitedDelete(ctx context.Context) bool {
	for r.flights.rateLimited.Load() > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true
}

// noteIssued records verdict-to-issue for a probe prune.
func (r *Reconciler) noteIssued(f *flight) {
	a := f.action
	if a.Op != routeplan.OpDelete || a.Evidence != routeplan.EvidenceProbe {
		return
	}
	if at, ok := r.verdictTime(a.InstanceID); ok {
		r.metrics.detectionToIssued.Observe(f.issued.Sub(at).Seconds())
	}
}

// do runs one action, a delete until no rate limit refuses it. Idempotence
// (invariant 3): a delete of a missing route and an insert of an existing
// one are success, so a second replica doing the same action is harmless.
func (r *Reconciler) do(ctx context.Context, a routeplan.Action) error {
	start := time.Now()
	err := r.call(ctx, a)
	if a.Op == routeplan.OpDelete && gce.IsRateLimited(err) {
		err = r.retryRateLimited(ctx, a, err)
	}
	for a.Op == routeplan.OpDelete && gce.IsNotReady(err) && time.Since(start) < r.opts.CallTimeout {
		select {
		case <-ctx.Done():
		case <-time.After(r.opts.RateLimitRetry/2 + rand.N(r.opts.RateLimitRetry)):
			err = r.call(ctx, a)
			continue
		}
		break
	}
	took := time.Since(start)
	fields := []zap.Field{
		logging.Op(string(a.Op)), logging.Route(a.Route.Name), logging.Instance(a.Instance),
		logging.InstanceID(a.InstanceID), logging.Group(a.Group), logging.DestRange(a.Route.DestRange),
		logging.Evidence(string(a.Evidence)), logging.Reason(a.Reason), logging.Duration(took),
	}
	if err != nil {
		err = fmt.Errorf("route %s: %s: %w", a.Route.Name, a.Op, err)
		r.metrics.operations.WithLabelValues(string(a.Op), "error").Inc()
		r.log.Warn("route operation failed, retrying next round", append(fields, logging.Err(err))...)
		return err
	}
	r.metrics.operations.WithLabelValues(string(a.Op), "ok").Inc()
	r.log.Info("route "+string(a.Op)+" done", fields...)
	return nil
}

// retryRateLimited repeats a delete refused by a rate limit until it lands,
// fails otherwise, or ctx ends. While it waits, inserts are held.
func (r *Reconciler) retryRateLimited(ctx context.Context, a routeplan.Action, err error) error {
	r.flights.rateLimited.Add(1)
	defer r.flights.rateLimited.Add(-1)
	r.log.Warn("prune refused by a rate limit: retrying until the window opens, inserts held",
		logging.Op(string(a.Op)), logging.Route(a.Route.Name), logging.Err(err))
	for attempt := 2; gce.IsRateLimited(err); attempt++ {
		wait := r.opts.RateLimitRetry/2 + rand.N(r.opts.RateLimitRetry)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		err = r.call(ctx, a)
	}
	return err
}

// call makes one API call for a under CallTimeout.
func (r *Reconciler) call(ctx context.Context, a routeplan.Action) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
	defer cancel()
	switch a.Op {
	case routeplan.OpDelete:
		err := r.api.Routes.Delete(ctx, a.Route.Project, a.Route.Name)
		if gce.IsNotFound(err) {
			return nil
		}
		return err
	case routeplan.OpInsert:
		err := r.api.Routes.Insert(ctx, a.Route)
		if gce.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	return fmt.Errorf("unknown op %q", a.Op)
}
