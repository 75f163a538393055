package gcefake

import (
	"sort"
	"time"
)

// OperationRecord is one operation as the operation log keeps it: what was
// asked, when, and how long GCE (the fake) took. Done is zero and Latency
// the drawn latency while the operation is pending; once DONE, Latency is
// Done − Issued.
type OperationRecord struct {
	Name    string        `json:"name"`
	Method  string        `json:"method"` // the call that started it, e.g. routes.delete
	Target  string        `json:"target"` // route name, instance name(s) or group name
	Issued  time.Time     `json:"issued"`
	Done    time.Time     `json:"done,omitzero"`
	Latency time.Duration `json:"latencyNs"`
	Error   string        `json:"error,omitempty"` // "REASON: message" of a DONE operation's error
}

// EffectiveChange is a route starting (Effective) or stopping to carry
// traffic in the data plane: its propagated state combined with its next
// hop's.
type EffectiveChange struct {
	Route     string    `json:"route"`
	Effective bool      `json:"effective"`
	At        time.Time `json:"at"`
}

// logCap bounds each log; past it the older half is dropped, so that a lab
// running for days stays bounded while any one scenario's records stay.
const logCap = 1 << 17

// logOpLocked appends rec to the operation log and returns its stored copy,
// which finishOpLocked completes.
func (s *Server) logOpLocked(rec OperationRecord) *OperationRecord {
	if len(s.opLog) >= logCap {
		s.opLog = append(s.opLog[:0:0], s.opLog[logCap/2:]...)
	}
	p := &rec
	s.opLog = append(s.opLog, p)
	return p
}

// OperationLog returns every operation in the order issued.
func (s *Server) OperationLog() []OperationRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OperationRecord, len(s.opLog))
	for i, r := range s.opLog {
		out[i] = *r
	}
	return out
}

// EffectiveLog returns every change of the effective route set in order.
func (s *Server) EffectiveLog() []EffectiveChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]EffectiveChange{}, s.effLog...)
}

// effCoalesce is how long the effective logger lets changes accumulate
// before one diff. Changes are stamped with the time of the first of them,
// so a lone change's time is exact and a burst's is that of its start.
const effCoalesce = 5 * time.Millisecond

// logEffective runs until Close: after each (coalesced) change it diffs the
// effective route set against the last one it saw and logs the difference.
// It runs apart from the changes themselves so that a burst of operations
// costs one diff, not one per operation.
func (s *Server) logEffective() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.effDirty:
		}
		// Let a burst of changes (a pass's operations) finish first: one
		// diff for all of them.
		if !s.sleep(effCoalesce) {
			return
		}
		s.mu.Lock()
		now := s.effSince
		s.effSince = time.Time{}
		cur := map[string]bool{}
		for _, r := range s.effectiveLocked(time.Now()) {
			cur[r.Project+"/"+r.Name] = true
		}
		var changes []EffectiveChange
		for key := range cur {
			if !s.effState[key] {
				s.effState[key] = true
				changes = append(changes, EffectiveChange{Route: routeOfKey(key), Effective: true, At: now})
			}
		}
		for key := range s.effState {
			if !cur[key] {
				delete(s.effState, key)
				changes = append(changes, EffectiveChange{Route: routeOfKey(key), Effective: false, At: now})
			}
		}
		sort.Slice(changes, func(i, j int) bool { return changes[i].Route < changes[j].Route })
		for _, c := range changes {
			s.appendEffLocked(c)
		}
		s.mu.Unlock()
	}
}

func (s *Server) appendEffLocked(c EffectiveChange) {
	if len(s.effLog) >= logCap {
		s.effLog = append(s.effLog[:0:0], s.effLog[logCap/2:]...)
	}
	s.effLog = append(s.effLog, c)
}

// routeOfKey returns the route name of a project/route key.
func routeOfKey(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			return key[i+1:]
		}
	}
	return key
}
