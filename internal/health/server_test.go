package health

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Answers a switchServer can give.
const (
	answerOK   = 200
	answer503  = 503
	answerHang = -1 // never answer: the probe times out
)

// switchServer is a real HTTP server whose answer the test switches, either
// directly (set) or by a script of answers consumed one per request, the
// last answer repeating once the script runs out.
type switchServer struct {
	*httptest.Server
	mu       sync.Mutex
	answer   int
	script   []int
	drained  chan struct{} // closed when the script has been consumed
	requests atomic.Int64
	conns    atomic.Int64 // new TCP connections accepted
}

func newSwitchServer(t testing.TB, answer int) *switchServer {
	s := &switchServer{answer: answer}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *switchServer) set(answer int) {
	s.mu.Lock()
	s.answer = answer
	s.mu.Unlock()
}

// play makes the next requests answer these, in order.
func (s *switchServer) play(answers ...int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = answers
	s.drained = make(chan struct{})
	return s.drained
}

func (s *switchServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	answer := s.answer
	if len(s.script) > 0 {
		answer, s.script = s.script[0], s.script[1:]
		s.answer = answer
		if len(s.script) == 0 {
			close(s.drained)
		}
	}
	s.mu.Unlock()
	if answer == answerHang {
		<-r.Context().Done() // the client gave up, or the server closes
		return
	}
	w.WriteHeader(answer)
	_, _ = w.Write([]byte("ready\n"))
}

// closedPortURL is a loopback URL nobody listens on.
func closedPortURL(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/readyz"
}

// counterValue reads one labelled counter from a registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue()
					}
					return float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return 0
}

// eventually polls cond until it holds or a generous deadline passes: a
// correctness wait, not a speed assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
