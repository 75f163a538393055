package gcefake

import (
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// operation is one asynchronous change. Its effect runs when it turns DONE
// (under the lock), and whatever error the effect returns is reported on the
// operation, like GCE does for errors it finds after accepting a request.
type operation struct {
	key     string // scope path + name, e.g. p/global/operation-…
	project string
	pb      *computepb.Operation
	created time.Time
	doneAt  time.Time
	// effect applies the change (ok) or, when an injected fault fails the
	// operation, releases what the call reserved and changes nothing (!ok).
	effect func(ok bool) *apiError
	fault  *apiError        // injected: the operation ends DONE with it, without httpErrorStatusCode
	done   chan struct{}    // closed when DONE
	rec    *OperationRecord // its line in the operation log
}

// opScope says where an operation lives: global, a zone or a region.
type opScope struct {
	project, zone, region string
}

func (sc opScope) path() string {
	switch {
	case sc.zone != "":
		return "projects/" + sc.project + "/zones/" + sc.zone
	case sc.region != "":
		return "projects/" + sc.project + "/regions/" + sc.region
	}
	return "projects/" + sc.project + "/global"
}

// startOpLocked creates an operation of opType, started by a call of
// method, on target (a route or instance name, for the operation log) and
// schedules it after a latency drawn for method. With zero latency the
// effect runs before the call returns, so the operation the caller sees is
// already DONE.
func (s *Server) startOpLocked(sc opScope, method, opType, target, targetLink string, targetID uint64, effect func(ok bool) *apiError) *operation {
	now := time.Now()
	name := fmt.Sprintf("operation-%d-%016x", now.UnixMilli(), s.rng.Uint64())
	latency := s.opLatencyLocked(method)
	op := &operation{
		key:     sc.path() + "/operations/" + name,
		project: sc.project,
		fault:   s.operationFaultLocked(method, targetLink),
		created: now,
		doneAt:  now.Add(latency),
		effect:  effect,
		done:    make(chan struct{}),
		pb: &computepb.Operation{
			Kind:              proto.String("compute#operation"),
			Id:                proto.Uint64(s.newIDLocked()),
			Name:              proto.String(name),
			OperationType:     proto.String(opType),
			TargetLink:        proto.String(targetLink),
			Status:            computepb.Operation_PENDING.Enum(),
			Progress:          proto.Int32(0),
			InsertTime:        proto.String(rfc3339(now)),
			CreationTimestamp: proto.String(rfc3339(now)),
			User:              proto.String("fake@vpclink.test"),
			SelfLink:          proto.String(apiBase + opPath(sc, name)),
		},
	}
	if targetID != 0 {
		op.pb.TargetId = proto.Uint64(targetID)
	}
	if sc.zone != "" {
		op.pb.Zone = proto.String(apiBase + "projects/" + sc.project + "/zones/" + sc.zone)
	}
	if sc.region != "" {
		op.pb.Region = proto.String(apiBase + "projects/" + sc.project + "/regions/" + sc.region)
	}
	s.ops[op.key] = op
	if len(s.ops)%1024 == 0 {
		s.pruneOpsLocked(now)
	}
	s.pending[sc.project]++
	op.rec = s.logOpLocked(OperationRecord{Name: name, Method: method, Target: target, Issued: now, Latency: latency})
	if latency <= 0 {
		s.finishOpLocked(op)
	} else {
		s.afterFunc(latency, func() { s.finishOpLocked(op) })
	}
	return op
}

// opLatencyLocked draws the latency of an operation started by method: its
// own distribution if it has one, else the default ("*").
func (s *Server) opLatencyLocked(method string) time.Duration {
	l, ok := s.opLatency[method]
	if !ok {
		l = s.opLatency[AllMethods]
	}
	return l.Draw(s.rng)
}

// replayLocked answers a retried mutation: when the request carries a
// requestId already seen for this path, it writes the operation that the
// first request started and reports true. GCE de-duplicates the same way,
// which is what makes retrying inserts safe.
func (s *Server) replayLocked(w http.ResponseWriter, r *http.Request) bool {
	id := r.URL.Query().Get("requestId")
	if id == "" {
		return false
	}
	op := s.ops[s.requestIDs[r.URL.Path+"?"+id]]
	if op == nil {
		return false
	}
	s.refreshOpLocked(op)
	writeProto(w, op.pb)
	return true
}

// rememberLocked records op as the answer to r's requestId, if any.
func (s *Server) rememberLocked(r *http.Request, op *operation) {
	if id := r.URL.Query().Get("requestId"); id != "" {
		s.requestIDs[r.URL.Path+"?"+id] = op.key
	}
}

// pruneOpsLocked forgets operations DONE for over an hour, so that a lab
// running for days does not grow without bound. GCE keeps them longer, but
// no caller polls an hour-old operation.
func (s *Server) pruneOpsLocked(now time.Time) {
	for k, op := range s.ops {
		if op.pb.GetStatus() == computepb.Operation_DONE && now.Sub(op.doneAt) > time.Hour {
			delete(s.ops, k)
		}
	}
	for id, k := range s.requestIDs {
		if s.ops[k] == nil {
			delete(s.requestIDs, id)
		}
	}
}

func opPath(sc opScope, name string) string { return sc.path() + "/operations/" + name }

// refreshOpLocked brings op's status up to date with the clock, so that a
// get right at doneAt never races the timer.
func (s *Server) refreshOpLocked(op *operation) {
	now := time.Now()
	switch {
	case !now.Before(op.doneAt):
		s.finishOpLocked(op)
	case op.pb.GetStatus() == computepb.Operation_PENDING && now.Sub(op.created) >= op.doneAt.Sub(op.created)/2:
		op.pb.Status = computepb.Operation_RUNNING.Enum()
		op.pb.Progress = proto.Int32(50)
		op.pb.StartTime = proto.String(rfc3339(now))
	}
}

// finishOpLocked runs op's effect once and marks it DONE.
func (s *Server) finishOpLocked(op *operation) {
	if op.pb.GetStatus() == computepb.Operation_DONE {
		return
	}
	now := time.Now()
	if op.pb.StartTime == nil {
		op.pb.StartTime = proto.String(rfc3339(now))
	}
	s.pending[op.project]--
	switch {
	case op.fault != nil:
		if op.effect != nil {
			op.effect(false)
		}
		// GCE ends some operations DONE with error.errors[] but without
		// httpErrorStatusCode; the apiv1 client's Operation.Wait then
		// returns nil (cloud.google.com/go/compute/apiv1/operations.go
		// checks HttpErrorStatusCode only).
		op.pb.Error = operationError(op.fault)
	case op.effect != nil:
		if e := op.effect(true); e != nil {
			op.pb.Error = operationError(e)
			op.pb.HttpErrorStatusCode = proto.Int32(int32(e.code))
			op.pb.HttpErrorMessage = proto.String(httpErrorMessage(e.code))
		}
	}
	op.pb.Status = computepb.Operation_DONE.Enum()
	op.pb.Progress = proto.Int32(100)
	op.pb.EndTime = proto.String(rfc3339(now))
	if op.rec != nil {
		op.rec.Done = now
		op.rec.Latency = now.Sub(op.rec.Issued)
		if e := op.pb.GetError().GetErrors(); len(e) > 0 {
			op.rec.Error = e[0].GetCode() + ": " + e[0].GetMessage()
		}
	}
	close(op.done)
	s.notifyLocked()
}

// handleOpGet serves {global,zones/Z,regions/R}/operations/NAME.
func (s *Server) handleOpGet(sc func(*http.Request) opScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := opPath(sc(r), r.PathValue("operation"))
		s.mu.Lock()
		op := s.ops[key]
		if op == nil {
			s.mu.Unlock()
			writeError(w, errNotFound(key))
			return
		}
		s.refreshOpLocked(op)
		pb := proto.Clone(op.pb)
		s.mu.Unlock()
		writeProto(w, pb)
	}
}

// handleOpWait serves …/operations/NAME/wait: it returns when the operation
// is DONE or after two minutes (GCE's bound), whichever is first.
func (s *Server) handleOpWait(sc func(*http.Request) opScope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := opPath(sc(r), r.PathValue("operation"))
		s.mu.Lock()
		op := s.ops[key]
		s.mu.Unlock()
		if op == nil {
			writeError(w, errNotFound(key))
			return
		}
		s.mu.Lock()
		wait := time.Until(op.doneAt)
		s.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(min(wait, 2*time.Minute))
			select {
			case <-op.done:
			case <-t.C:
			case <-r.Context().Done():
			case <-s.ctx.Done():
			}
			t.Stop()
		}
		s.mu.Lock()
		s.refreshOpLocked(op)
		pb := proto.Clone(op.pb)
		s.mu.Unlock()
		writeProto(w, pb)
	}
}

func globalScope(r *http.Request) opScope { return opScope{project: r.PathValue("project")} }
func zoneScope(r *http.Request) opScope {
	return opScope{project: r.PathValue("project"), zone: r.PathValue("zone")}
}
func regionScope(r *http.Request) opScope {
	return opScope{project: r.PathValue("project"), region: r.PathValue("region")}
}

func rfc3339(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-07:00") }
