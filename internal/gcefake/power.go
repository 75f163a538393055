package gcefake

import (
	"context"
	"net/http"
)

// handleInstancePower serves instances.start and instances.stop. Both act
// at once and return an operation. stop: STOPPING, the guest's shutdown
// (Lifecycle.Stopping for a MIG member whose guest started, bounded by its
// shutdown budget), then TERMINATED; the instance stays, with its id.
// start of a TERMINATED instance: PROVISIONING → STAGING → RUNNING over
// BootDelay, a new lastStartTimestamp, then Lifecycle.Started for a
// member. Source: the instance life cycle in the Compute docs (stop goes
// through STOPPING to TERMINATED, start through PROVISIONING and STAGING to
// RUNNING) and the Instance resource's lastStartTimestamp. Stopping a
// stopped instance or starting a running one changes nothing.
func (s *Server) handleInstancePower(start bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		project, zone, name := r.PathValue("project"), r.PathValue("zone"), r.PathValue("instance")
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.replayLocked(w, r) {
			return
		}
		in := s.instances[instKey(project, zone, name)]
		if in == nil || in.hidden {
			writeError(w, errNotFound("projects/"+project+"/zones/"+zone+"/instances/"+name))
			return
		}
		opType := "stop"
		if start {
			opType = "start"
			s.startInstanceLocked(in)
		} else {
			s.stopInstanceLocked(in)
		}
		op := s.startOpLocked(opScope{project: project, zone: zone}, methodOf(r), opType, name, instanceURL(project, zone, name), in.pub.ID, nil)
		s.rememberLocked(r, op)
		writeProto(w, op.pb)
	}
}

// stopInstanceLocked stops in, keeping it (see handleInstancePower).
func (s *Server) stopInstanceLocked(in *instance) {
	if in.pub.Status == StatusTerminated || in.pub.Status == StatusStopping {
		return
	}
	in.bootSeq++
	seq := in.bootSeq
	started, budget := in.started, in.budget
	if budget <= 0 {
		budget = s.opts.ShutdownTimeout
	}
	in.started = nil
	s.setStatusLocked(in, StatusStopping)
	snap := in.snapshot()
	s.goLifecycle(func() {
		if lc := s.opts.Lifecycle; lc != nil && started != nil {
			ctx, cancel := context.WithTimeout(s.ctx, budget)
			select {
			case <-started:
				lc.Stopping(ctx, snap)
			case <-ctx.Done():
			}
			cancel()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.instances[in.key()] != in || in.bootSeq != seq {
			return
		}
		s.setStatusLocked(in, StatusTerminated)
	})
}

// startInstanceLocked boots a TERMINATED in again.
func (s *Server) startInstanceLocked(in *instance) {
	if in.pub.Status != StatusTerminated {
		return
	}
	in.bootSeq++
	seq := in.bootSeq
	s.setStatusLocked(in, StatusProvisioning)
	if s.opts.BootDelay <= 0 {
		s.setStatusLocked(in, StatusRunning)
		if g := s.groupOfLocked(in); g != nil {
			in.action = runningAction(g)
		}
	}
	s.goLifecycle(func() { s.boot(in, seq) })
}
