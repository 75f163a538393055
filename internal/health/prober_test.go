package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTPProberStatus(t *testing.T) {
	var redirectedTo atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/code/", func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, "/code/") {
		case "200":
			w.WriteHeader(200)
		case "204":
			w.WriteHeader(204)
		case "301":
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		case "404":
			w.WriteHeader(404)
		case "503":
			w.WriteHeader(503)
		}
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		redirectedTo.Add(1)
		w.WriteHeader(200)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	p := NewHTTPProber(2 * time.Second)
	for code, ok := range map[string]bool{"200": true, "204": true, "301": false, "404": false, "503": false} {
		err := p.Probe(context.Background(), srv.URL+"/code/"+code)
		if (err == nil) != ok {
			t.Errorf("status %s: err %v, want ok=%v", code, err, ok)
		}
		var se *StatusError
		if !ok && (!errors.As(err, &se) || failureReason(err) != "status" || !strings.Contains(err.Error(), "status "+code)) {
			t.Errorf("status %s: error %v is not a StatusError naming the code", code, err)
		}
	}
	if redirectedTo.Load() != 0 {
		t.Error("prober followed a redirect")
	}
}

func TestHTTPProberTimeoutAndRefused(t *testing.T) {
	hang := newSwitchServer(t, answerHang)
	p := NewHTTPProber(100 * time.Millisecond)
	err := p.Probe(context.Background(), hang.URL+"/readyz")
	if err == nil || failureReason(err) != "timeout" {
		t.Errorf("hanging server: err %v (reason %s), want a timeout", err, failureReason(err))
	}
	// The context's deadline counts as well as the prober's own.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := NewHTTPProber(time.Minute).Probe(ctx, hang.URL+"/readyz"); err == nil || failureReason(err) != "timeout" {
		t.Errorf("context deadline: err %v, want a timeout", err)
	}
	err = p.Probe(context.Background(), closedPortURL(t))
	if err == nil || failureReason(err) != "refused" {
		t.Errorf("closed port: err %v (reason %s), want refused", err, failureReason(err))
	}
}

func TestHTTPProberKeepsConnectionsAlive(t *testing.T) {
	srv := newSwitchServer(t, answerOK)
	p := NewHTTPProber(2 * time.Second)
	for i := 0; i < 10; i++ {
		if err := p.Probe(context.Background(), srv.URL+"/readyz"); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("10 sequential probes opened %d connections, want 1 (keep-alive)", n)
	}
}
