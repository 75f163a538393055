package reconciler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// Outcome is what became of one action.
type Outcome struct {
	Action   routeplan.Action
	Err      error
	Skipped  bool // its After insert did not succeed
	Duration time.Duration
	Done     time.Time
}

// apply runs the plan's actions, at most o.Concurrency at once, each under
// its own deadline. Every action without After runs in the first wave
// (prunes must not wait for restores); deletes ordered After an insert run
// in the second wave, and only if that insert succeeded. Errors are
// returned per action, never stop the others.
func (r *Reconciler) apply(ctx context.Context, actions []routeplan.Action) []Outcome {
	out := make([]Outcome, len(actions))
	var first, second []int
	for i, a := range actions {
		out[i].Action = a
		if a.After == "" {
			first = append(first, i)
		} else {
			second = append(second, i)
		}
	}
	r.runWave(ctx, out, first)
	insertOK := map[string]bool{}
	for _, o := range out {
		if o.Action.Op == routeplan.OpInsert && o.Err == nil && !o.Skipped {
			insertOK[o.Action.Route.Name] = true
		}
	}
	var ready []int
	for _, i := range second {
		if insertOK[out[i].Action.After] {
			ready = append(ready, i)
		} else {
			out[i].Skipped = true
		}
	}
	r.runWave(ctx, out, ready)
	return out
}

func (r *Reconciler) runWave(ctx context.Context, out []Outcome, idx []int) {
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	for _, i := range idx {
		sem <- struct{}{}
		wg.Add(1)
		go func(o *Outcome) {
			defer func() { <-sem; wg.Done() }()
			r.do(ctx, o)
		}(&out[i])
	}
	wg.Wait()
}

// do runs one action. Idempotence (invariant 3): a delete of a missing
// route and an insert of an existing one are success, so a second replica
// doing the same action is harmless.
func (r *Reconciler) do(ctx context.Context, o *Outcome) {
	a := o.Action
	ctx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
	defer cancel()
	start := time.Now()
	var err error
	switch a.Op {
	case routeplan.OpDelete:
		err = r.api.Routes.Delete(ctx, a.Route.Project, a.Route.Name)
		if gce.IsNotFound(err) {
			err = nil
		}
	case routeplan.OpInsert:
		err = r.api.Routes.Insert(ctx, a.Route)
		if gce.IsAlreadyExists(err) {
			err = nil
		}
	default:
		err = fmt.Errorf("unknown op %q", a.Op)
	}
	o.Done = time.Now()
	o.Duration = o.Done.Sub(start)
	fields := []zap.Field{
		logging.Op(string(a.Op)), logging.Route(a.Route.Name), logging.Instance(a.Instance),
		logging.InstanceID(a.InstanceID), logging.Group(a.Group), logging.DestRange(a.Route.DestRange),
		logging.Evidence(string(a.Evidence)), logging.Reason(a.Reason), logging.Duration(o.Duration),
	}
	if err != nil {
		o.Err = fmt.Errorf("route %s: %s: %w", a.Route.Name, a.Op, err)
		r.metrics.operations.WithLabelValues(string(a.Op), "error").Inc()
		r.log.Warn("route operation failed, retrying next round", append(fields, logging.Err(o.Err))...)
		return
	}
	r.metrics.operations.WithLabelValues(string(a.Op), "ok").Inc()
	r.log.Info("route "+string(a.Op)+" done", fields...)
}
