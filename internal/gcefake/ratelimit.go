package gcefake

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rateWindow is one project's per-minute rate-quota state. Source:
// "Compute Engine rate quotas" (cloud.google.com/compute/api-quota): quotas
// are per project and per group of methods, counted over per-minute
// intervals; a project that reaches a limit gets 403 rateLimitExceeded
// until the quota refills "at the start of the next synchronized interval"
// (a limit reached at 10:00:15 refills at 10:01:00). The fake has two
// groups, reads and writes; GCE has more (reads, lists, operation reads,
// mutations), and a test that needs finer groups sets per-method faults.
type rateWindow struct {
	readLimit, writeLimit int       // per minute; 0: unlimited
	start                 time.Time // the current window's minute
	reads, writes         int
	writesSpent           bool // SpendWriteBudget emptied this window's writes
}

// SetRateLimit sets project's per-minute budgets of read and write calls;
// 0 leaves a class unlimited, and two zeros remove the limit.
func (s *Server) SetRateLimit(project string, readsPerMinute, writesPerMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if readsPerMinute <= 0 && writesPerMinute <= 0 {
		delete(s.rates, project)
		return
	}
	w := s.windowLocked(project, s.clock())
	w.readLimit, w.writeLimit = max(0, readsPerMinute), max(0, writesPerMinute)
}

// SpendWriteBudget spends the rest of this minute's write budget of
// project: every write call fails with 403 rateLimitExceeded until the next
// minute boundary, whatever limit is set (none included).
func (s *Server) SpendWriteBudget(project string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.windowLocked(project, s.clock()).writesSpent = true
}

// windowLocked returns project's window, created and rolled over to now's
// minute as needed.
func (s *Server) windowLocked(project string, now time.Time) *rateWindow {
	w := s.rates[project]
	if w == nil {
		w = &rateWindow{}
		s.rates[project] = w
	}
	if start := now.Truncate(time.Minute); !w.start.Equal(start) {
		w.start, w.reads, w.writes, w.writesSpent = start, 0, 0, false
	}
	return w
}

// rateLimitLocked counts a call of class write against project's budget and
// returns the error when the budget is spent, or nil.
func (s *Server) rateLimitLocked(project string, write bool, now time.Time) *apiError {
	if s.rates[project] == nil {
		return nil
	}
	w := s.windowLocked(project, now)
	if write {
		if w.writesSpent || (w.writeLimit > 0 && w.writes >= w.writeLimit) {
			return errRateLimited()
		}
		w.writes++
		return nil
	}
	if w.readLimit > 0 && w.reads >= w.readLimit {
		return errRateLimited()
	}
	w.reads++
	return nil
}

// SetConcurrentOperationsLimit caps the operations of project that may be
// pending at once; a write call beyond it fails with 403
// CONCURRENT_OPERATIONS_QUOTA_EXCEEDED. n <= 0 removes the cap.
func (s *Server) SetConcurrentOperationsLimit(project string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.opLimit, project)
		return
	}
	s.opLimit[project] = n
}

// concurrencyLocked returns the error for a write call of project while its
// pending operations are at the cap, or nil. GCE answers 403 "Rate Limit
// Exceeded", errors[].reason rateLimitExceeded, with a google.rpc.ErrorInfo
// detail whose reason is CONCURRENT_OPERATIONS_QUOTA_EXCEEDED (domain
// compute.googleapis.com, metadatas containerType PROJECT). Sources: the
// error quoted in terraform-example-foundation's troubleshooting guide, and
// gcloud's IsJsonOperationQuotaError, which looks for that reason in
// error.details.
func (s *Server) concurrencyLocked(project string) *apiError {
	limit, ok := s.opLimit[project]
	if !ok || s.pending[project] < limit {
		return nil
	}
	e := errRateLimited()
	e.details = []any{map[string]any{
		"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
		"reason": "CONCURRENT_OPERATIONS_QUOTA_EXCEEDED",
		"domain": "compute.googleapis.com",
		"metadatas": map[string]string{
			"containerId":   strconv.FormatUint(projectNumber(project), 10),
			"containerType": "PROJECT",
			"location":      "global",
		},
	}}
	return e
}

// readVerbs are the method verbs that read; every other method writes.
var readVerbs = map[string]bool{
	"get": true, "list": true, "aggregatedList": true, "wait": true,
	"listManagedInstances": true, "listErrors": true,
}

// isWrite reports whether a method (e.g. routes.insert) mutates.
func isWrite(method string) bool {
	return !readVerbs[method[strings.LastIndexByte(method, '.')+1:]]
}

// projectOf returns the project a Compute path names, or "".
func projectOf(r *http.Request) string { return r.PathValue("project") }
