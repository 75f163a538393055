package reconciler

import (
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/health"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// planInputs is a pass's snapshot turned into routeplan input, plus what
// the pass needs to act on the decision.
type planInputs struct {
	in routeplan.Input
	// states are the monitor's, keyed by instance id: the monitor's string
	// keys are converted here, once.
	states   map[instanceid.ID]health.State
	statusOf map[instanceid.ID]statusTarget
	// missing are Healthy forwarders with no /status cached.
	missing []statusTarget
}

// setTargets feeds the monitor the snapshot's RUNNING members and returns
// where each one's /status is read.
func (r *Reconciler) setTargets(snap Snapshot) map[instanceid.ID]statusTarget {
	statusOf := map[instanceid.ID]statusTarget{}
	members := map[string]bool{}
	for _, m := range snap.Members {
		members[m.Managed.Zone+"/"+m.Managed.Name] = true
	}
	var targets []health.Target
	live := map[instanceid.ID]bool{}
	for _, inst := range snap.Instances {
		if !members[inst.Zone+"/"+inst.Name] || inst.Status != "RUNNING" || nic0(inst) == "" {
			continue
		}
		base := r.opts.ForwarderURL(inst)
		targets = append(targets, health.Target{Key: inst.ID.String(), URL: base + r.cfg.Probe.Path, Start: inst.LastStartTimestamp})
		statusOf[inst.ID] = statusTarget{id: inst.ID, name: inst.Name, url: base + "/status"}
		live[inst.ID] = true
	}
	r.monitor.SetTargets(targets)
	r.cache.keep(live)
	r.mu.Lock()
	for id := range r.verdictAt {
		if !live[id] {
			delete(r.verdictAt, id)
		}
	}
	r.mu.Unlock()
	return statusOf
}

// prepare feeds the monitor the snapshot's forwarders and assembles the
// plan input from the monitor's states and the /status cache. Healthy
// forwarders without a cached /status are listed in missing, not read.
func (r *Reconciler) prepare(snap Snapshot, now time.Time) planInputs {
	pi := planInputs{statusOf: r.setTargets(snap)}
	pi.states = statesByID(r.monitor.States())
	wanted := map[instanceid.ID]agentapi.Status{}
	for id, s := range pi.states {
		if s.Verdict != health.Healthy {
			continue
		}
		if st, ok := r.cache.get(id, now); ok {
			wanted[id] = st
		} else if t, ok := pi.statusOf[id]; ok {
			pi.missing = append(pi.missing, t)
		}
	}
	pi.in = r.input(snap, pi.states, wanted, now)
	return pi
}

// input is the routeplan input for a snapshot and the monitor's states.
func (r *Reconciler) input(snap Snapshot, states map[instanceid.ID]health.State, wanted map[instanceid.ID]agentapi.Status, now time.Time) routeplan.Input {
	probes := make(map[instanceid.ID]routeplan.Probe, len(states))
	for id, s := range states {
		probes[id] = probeOf(s)
	}
	return routeplan.Input{
		Config: r.cfg, Now: now, Writer: r.opts.Writer,
		Members: snap.Members, Instances: snap.Instances, Routes: snap.Routes,
		Probes: probes, Wanted: wanted, Unread: snap.Unread(), Judgements: r.corr.judgements(now),
	}
}

// statesByID converts the monitor's keys, which the reconciler sets to
// instance ids (setTargets), back to ids.
func statesByID(states map[string]health.State) map[instanceid.ID]health.State {
	out := make(map[instanceid.ID]health.State, len(states))
	for key, s := range states {
		if id, err := instanceid.Parse(key); err == nil {
			out[id] = s
		}
	}
	return out
}

func probeOf(s health.State) routeplan.Probe {
	v := routeplan.Starting
	switch s.Verdict {
	case health.Healthy:
		v = routeplan.Healthy
	case health.Unhealthy:
		v = routeplan.Unhealthy
	case health.Draining:
		v = routeplan.Draining
	}
	return routeplan.Probe{Verdict: v, ConsecutiveFailures: s.ConsecutiveFailures, EverSucceeded: s.EverSucceeded,
		EverHealthy: s.EverHealthy, StreakStart: s.StreakStart, Answered: s.Answered}
}

func nic0(inst gce.Instance) string {
	for _, n := range inst.NICs {
		if n.Index == 0 {
			return n.IP
		}
	}
	return ""
}
