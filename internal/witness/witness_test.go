package witness

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
)

func TestAskAll(t *testing.T) {
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	sees := func(name string, answered bool) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/peer-probe" || r.URL.Query().Get("addr") != "10.0.1.7" {
				http.Error(w, "bad request "+r.URL.String(), http.StatusBadRequest)
				return
			}
			_ = json.NewEncoder(w).Encode(agentapi.PeerProbe{Observer: name, Target: "10.0.1.7", Answered: answered,
				At: at.Format(time.RFC3339Nano), Took: "800ms"})
		}))
	}
	b, c := sees("fwd-b", false), sees("fwd-c", true)
	defer b.Close()
	defer c.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer redirect.Close()

	cl := New(2 * time.Second)
	obs, errs := cl.AskAll(context.Background(), []Request{
		{b.URL, "10.0.1.7"}, {c.URL, "10.0.1.7"}, {redirect.URL, "10.0.1.7"}, {"http://127.0.0.1:1", "10.0.1.7"},
	})
	if len(obs) != 2 || len(errs) != 2 {
		t.Fatalf("obs %+v errs %v: want 2 observations (a redirect is not followed, a dead witness is skipped)", obs, errs)
	}
	got := map[string]bool{}
	for _, o := range obs {
		got[o.Observer] = o.Answered
		if !o.At.Equal(at) {
			t.Errorf("%s: at %v", o.Observer, o.At)
		}
	}
	if got["fwd-b"] || !got["fwd-c"] {
		t.Errorf("observations %v", got)
	}
}
