package gcefake

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// Fault makes a share of calls to a method fail. Rate is the probability
// (0..1) that a call fails; the failure's HTTP code is drawn uniformly from
// Codes, each with GCE's reason for it: 400 resourceNotReady, 403 and 429
// rateLimitExceeded, 500 and 503 backendError. No Codes means 503.
//
// By default the call fails before it does anything. The flags model the
// other ways GCE fails:
//   - Applied: the call is carried out, then its response is lost: the
//     caller sees the error (or a reset) although the change happened, so
//     only the requestId de-duplication of a retry keeps it from happening
//     twice. Source: the Compute API's requestId documentation ("if you
//     must retry your request, the server will know to ignore the request
//     if it has already been completed").
//   - Reset: the connection is closed without a response instead of an
//     HTTP error.
//   - Operation: the call succeeds, and its operation ends DONE with an
//     error (the code's reason in UPPER_SNAKE) but without
//     httpErrorStatusCode, and without effect. Source: the apiv1 client's
//     operations.go, which reports an operation's error only when
//     httpErrorStatusCode is set, so op.Wait returns nil for these.
type Fault struct {
	Rate      float64 `json:"rate"`
	Codes     []int   `json:"codes,omitempty"`
	Applied   bool    `json:"applied,omitempty"`
	Reset     bool    `json:"reset,omitempty"`
	Operation bool    `json:"operation,omitempty"`
}

// AllMethods is the method name that a fault or latency applies to when the
// called method has none of its own.
const AllMethods = "*"

// SetFault sets the fault for method (e.g. "routes.insert", or "*"). A zero
// Rate removes it.
func (s *Server) SetFault(method string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Rate <= 0 {
		delete(s.faults, method)
		return
	}
	s.faults[method] = f
}

// SetLatency adds d before every response of method (or "*"). Zero removes it.
func (s *Server) SetLatency(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.latency, method)
		return
	}
	s.latency[method] = d
}

// RequestCounts returns the number of Compute API calls per method since the
// last reset, faulted ones included. Control and metadata calls are not
// counted.
func (s *Server) RequestCounts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// ResetRequestCounts sets every count to zero.
func (s *Server) ResetRequestCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
}

// api wraps a Compute handler: it counts the call against the request
// counts and the project's rate budget, adds the configured latency and
// injects the configured fault around h.
func (s *Server) api(method string, h http.HandlerFunc) http.HandlerFunc {
	write := isWrite(method)
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[method]++
		delay, ok := s.latency[method]
		if !ok {
			delay = s.latency[AllMethods]
		}
		f := s.faultLocked(method)
		fail := s.rateLimitLocked(projectOf(r), write, s.clock())
		if fail == nil && write {
			fail = s.concurrencyLocked(projectOf(r))
		}
		injected := false
		if fail == nil && !f.Operation && f.Rate > 0 && s.rng.Float64() < f.Rate {
			fail, injected = faultError(s.drawCodeLocked(f), strings.TrimPrefix(r.URL.Path, "/compute/v1/")), true
		}
		s.mu.Unlock()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), methodKey{}, method))
		if fail == nil {
			h(w, r)
			return
		}
		if injected && f.Applied {
			h(discard{header: http.Header{}}, r)
		}
		if injected && f.Reset {
			// Closes the connection without a response (net/http's
			// documented way for a handler to abort).
			panic(http.ErrAbortHandler)
		}
		writeError(w, fail)
	}
}

// faultLocked returns the fault set for method, or for AllMethods.
func (s *Server) faultLocked(method string) Fault {
	f, ok := s.faults[method]
	if !ok {
		f = s.faults[AllMethods]
	}
	return f
}

func (s *Server) drawCodeLocked(f Fault) int {
	if len(f.Codes) == 0 {
		return http.StatusServiceUnavailable
	}
	return f.Codes[s.rng.IntN(len(f.Codes))]
}

// operationFaultLocked draws an Operation fault for an operation started by
// method on targetLink: the error it ends with, or nil.
func (s *Server) operationFaultLocked(method, targetLink string) *apiError {
	f := s.faultLocked(method)
	if !f.Operation || f.Rate <= 0 || s.rng.Float64() >= f.Rate {
		return nil
	}
	e := faultError(s.drawCodeLocked(f), strings.TrimPrefix(targetLink, apiBase))
	e.reason = upperSnake(e.reason)
	return e
}

// upperSnake spells a camelCase reason as operations do: resourceNotReady
// → RESOURCE_NOT_READY.
func upperSnake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if unicode.IsUpper(c) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// discard is the ResponseWriter of a call whose response is lost.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

// methodKey keys the called method's name in a request's context.
type methodKey struct{}

// methodOf returns the method name api recorded for r ("" outside api).
func methodOf(r *http.Request) string {
	m, _ := r.Context().Value(methodKey{}).(string)
	return m
}
