package agent

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/gce"
)

// TestPeerProbe probes real listeners on loopback: one that answers 200, one
// that answers 503 (alive, not ready) and a port nobody listens on.
func TestPeerProbe(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ok.Close()
	_, port, _ := net.SplitHostPort(ok.Listener.Addr().String())
	portNum, _ := strconv.Atoi(port)
	id := gce.Identity{Name: "fwd-a", NICs: []gce.MetadataNIC{{Index: 0, IP: "127.0.0.5", Subnetmask: "255.0.0.0"}}}
	h := newPeerProbe(id, portNum, nil)

	get := func(addr string) (int, agentapi.PeerProbe) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/peer-probe?addr="+addr, nil))
		var pp agentapi.PeerProbe
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &pp); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
		}
		return rec.Code, pp
	}
	if code, pp := get("127.0.0.1"); code != 200 || !pp.Answered || pp.Status != 200 || pp.Observer != "fwd-a" {
		t.Errorf("live peer: %d %+v", code, pp)
	}
	for _, bad := range []string{"", "example.com", "10.0.0.1", "127.0.0.1:80"} {
		if code, _ := get(bad); code != http.StatusBadRequest {
			t.Errorf("addr %q: status %d, want 400", bad, code)
		}
	}

	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	_, port, _ = net.SplitHostPort(notReady.Listener.Addr().String())
	h.port, _ = strconv.Atoi(port)
	if code, pp := get("127.0.0.1"); code != 200 || !pp.Answered || pp.Status != 503 {
		t.Errorf("503 peer must count as answered: %d %+v", code, pp)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	ln.Close() // nobody listens there now
	h.port, _ = strconv.Atoi(port)
	if code, pp := get("127.0.0.1"); code != 200 || pp.Answered || pp.Err == "" {
		t.Errorf("dead peer: %d %+v", code, pp)
	}
}
