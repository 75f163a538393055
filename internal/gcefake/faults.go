package gcefake

import (
	"context"
	"maps"
	"net/http"
	"time"
)

// Fault makes a share of calls to a method fail. Rate is the probability
// (0..1) that a call fails; the failure's HTTP code is drawn uniformly from
// Codes, each with GCE's reason for it: 403 and 429 rateLimitExceeded, 500
// and 503 backendError. No Codes means 503.
type Fault struct {
	Rate  float64 `json:"rate"`
	Codes []int   `json:"codes,omitempty"`
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

// api wraps a Compute handler: it counts the call, adds the configured
// latency and injects the configured fault before h runs.
func (s *Server) api(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[method]++
		delay, ok := s.latency[method]
		if !ok {
			delay = s.latency[AllMethods]
		}
		f, ok := s.faults[method]
		if !ok {
			f = s.faults[AllMethods]
		}
		var fail *apiError
		if f.Rate > 0 && s.rng.Float64() < f.Rate {
			code := http.StatusServiceUnavailable
			if len(f.Codes) > 0 {
				code = f.Codes[s.rng.IntN(len(f.Codes))]
			}
			fail = faultError(code)
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
		if fail != nil {
			writeError(w, fail)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), methodKey{}, method)))
	}
}

// methodKey keys the called method's name in a request's context.
type methodKey struct{}

// methodOf returns the method name api recorded for r ("" outside api).
func methodOf(r *http.Request) string {
	m, _ := r.Context().Value(methodKey{}).(string)
	return m
}
