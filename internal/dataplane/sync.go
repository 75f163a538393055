package dataplane

import (
	"errors"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/policy"
)

// sync runs one pass: desired state, observe, apply the difference, observe again.
// events holds the kinds of the events that prompted it (cause causeEvent).
// It reports whether the pass ran without kernel errors (an incomplete desired state,
// such as nic1 missing, is not an error: the next link event brings it).
func (kp *Keeper) sync(cause string, events map[string]bool) bool {
	start := time.Now()
	kp.metrics.passes.WithLabelValues(cause).Inc()
	defer func() { kp.metrics.passDuration.Observe(time.Since(start).Seconds()) }()

	wanted, planErr, err := kp.desired()
	if err != nil {
		kp.failed(cause, err)
		return false
	}
	observed, err := kp.observe(wanted)
	if err != nil {
		kp.failed(cause, err)
		return false
	}
	changes, keys, held := kp.limiter.admit(wanted, policy.Diff(wanted, observed), time.Now())
	kp.held = held
	var repair *agentapi.Repair
	var applyErr error
	if !changes.Empty() {
		fixed := changes.Describe(wanted, observed)
		if cause == causeEvent {
			cause = eventCause(events, changes)
		}
		applyErr = kp.apply(changes)
		if observed, err = kp.observe(wanted); err != nil {
			applyErr = errors.Join(applyErr, err)
		}
		if applyErr == nil {
			kp.noteFights(kp.limiter.recordAll(keys, time.Now()))
		}
		repair = &agentapi.Repair{Time: time.Now().UTC().Format(time.RFC3339Nano), Cause: cause, Fixed: fixed}
		fields := []zap.Field{logging.Op("repair"), logging.Cause(cause),
			logging.Fixed(fixed), logging.Duration(time.Since(start))}
		if applyErr != nil {
			kp.log.Warn("data plane repair incomplete", append(fields, logging.Err(applyErr))...)
		} else {
			kp.log.Info("data plane repaired", fields...)
		}
	}
	kp.noteIncomplete(planErr)
	wantLines, haveLines := wanted.Render(), observed.Render()
	ready := planErr == nil && applyErr == nil && slices.Equal(wantLines, haveLines)
	kp.setState(ready, wantLines, haveLines, repair)
	if applyErr != nil {
		kp.metrics.errors.Inc()
		return false
	}
	return true
}

// desired reads the links and returns the wanted state. planErr is the
// policy's complaint (nic1 missing…); err is a kernel read failure.
func (kp *Keeper) desired() (wanted policy.State, planErr, err error) {
	links, err := kp.k.Links()
	if err != nil {
		return policy.State{}, nil, err
	}
	facts := policy.Facts{
		NIC0:        findLink(links, kp.cfg.NIC0Name, kp.cfg.NIC0MAC),
		NIC1:        findLink(links, kp.cfg.NIC1Name, kp.cfg.NIC1MAC),
		NIC1Gateway: kp.cfg.NIC1Gateway,
	}
	wanted, planErr = policy.Desired(facts, kp.cfg.Policy)
	if planErr != nil && !errors.Is(planErr, policy.ErrIncomplete) {
		// A config the policy refuses: nothing sensible to apply.
		return policy.State{}, nil, planErr
	}
	return wanted, planErr, nil
}

// observe reads vpclink's part of the kernel state in the shape of wanted.
// Unreadable sysctls (a device that just vanished) show as "?" and get
// rewritten or fail the write; they are not a read failure.
func (kp *Keeper) observe(wanted policy.State) (policy.State, error) {
	paths := make([]string, len(wanted.Sysctls))
	for i, s := range wanted.Sysctls {
		paths[i] = s.Path
	}
	values, _ := kp.k.ReadSysctls(paths)
	rules, err := kp.k.Rules()
	if err != nil {
		return policy.State{}, err
	}
	routes, err := kp.k.Routes(wanted.Table)
	if err != nil {
		return policy.State{}, err
	}
	main, err := kp.k.Routes(policy.MainTable)
	if err != nil {
		return policy.State{}, err
	}
	return policy.Observe(wanted, values, rules, append(routes, main...)), nil
}

// apply makes the changes in the order policy.Changes documents, carrying on
// past failures and returning them all.
func (kp *Keeper) apply(c policy.Changes) error {
	var errs []error
	for _, s := range c.Sysctls {
		errs = append(errs, kp.k.WriteSysctl(s.Path, s.Value))
	}
	for _, r := range c.AddRules {
		errs = append(errs, kp.k.AddRule(r))
	}
	for _, r := range c.DeleteRules {
		errs = append(errs, kp.k.DeleteRule(r))
	}
	for _, r := range c.ReplaceRoutes {
		errs = append(errs, kp.k.ReplaceRoute(r))
	}
	for _, r := range c.DeleteRoutes {
		errs = append(errs, kp.k.DeleteRoute(r))
	}
	return errors.Join(errs...)
}

// eventCause names what an event-driven repair answered (see the package
// comment).
func eventCause(events map[string]bool, c policy.Changes) string {
	for _, kind := range []string{kernel.CauseLink, kernel.CauseAddress} {
		if events[kind] {
			return kind
		}
	}
	var kinds []string
	if len(c.Sysctls) > 0 {
		kinds = append(kinds, kernel.CauseSysctl)
	}
	if len(c.AddRules)+len(c.DeleteRules) > 0 {
		kinds = append(kinds, kernel.CauseRule)
	}
	if len(c.ReplaceRoutes)+len(c.DeleteRoutes) > 0 {
		kinds = append(kinds, kernel.CauseRoute)
	}
	for _, kind := range kinds {
		if events[kind] {
			return kind
		}
	}
	if len(kinds) > 0 {
		return kinds[0]
	}
	return kernel.CauseOverflow
}

// noteFights counts fights by kind and logs when a fight begins.
func (kp *Keeper) noteFights(kinds []string) {
	for _, kind := range kinds {
		kp.metrics.fights.WithLabelValues(kind).Inc()
	}
	if len(kinds) > 0 && !kp.fighting {
		kp.log.Warn("data plane: something keeps undoing vpclink's changes; repairs of it are rate-limited",
			logging.Op("repair"), logging.Cause(kinds[0]))
	}
	kp.fighting = !kp.held.IsZero() || len(kinds) > 0
}

// failed records a pass that could not read the kernel or work out the desired state.
func (kp *Keeper) failed(cause string, err error) {
	kp.metrics.errors.Inc()
	kp.log.Warn("data plane pass failed", logging.Op("sync"), logging.Cause(cause), logging.Err(err))
	kp.mu.Lock()
	wanted, actual := kp.wanted, kp.actual
	kp.mu.Unlock()
	kp.setState(false, wanted, actual, nil)
}

// noteIncomplete logs when what keeps the desired state incomplete changes (nic1
// missing, down, without address…), once, not on every pass.
func (kp *Keeper) noteIncomplete(planErr error) {
	reason := ""
	if planErr != nil {
		reason = planErr.Error()
	}
	if reason == kp.incomplete {
		return
	}
	kp.incomplete = reason
	if reason == "" {
		kp.log.Info("data plane complete", logging.Op("plan"))
		return
	}
	kp.log.Info("data plane incomplete", logging.Op("plan"), logging.ErrText(reason))
}
