package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vpclink/vpclink/internal/agentapi"
)

// Handler serves /healthz, /readyz, /status, /peer-probe and /metrics.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.serveHealthz)
	mux.HandleFunc("GET /readyz", a.serveReadyz)
	mux.HandleFunc("GET /status", a.serveStatus)
	mux.Handle("GET /peer-probe", newPeerProbe(a.opt.Identity, a.opt.Config.Health.Port, nil))
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{}))
	return mux
}

// Ready reports whether the forwarder should receive traffic: the data
// plane is ready, every route is announced and no drain has begun.
func (a *Agent) Ready() bool {
	a.mu.Lock()
	announced, draining := a.announced, a.draining
	a.mu.Unlock()
	return announced && !draining && a.opt.DataPlane != nil && a.opt.DataPlane.Ready()
}

// Status is the /status body.
func (a *Agent) Status() agentapi.Status {
	a.mu.Lock()
	phase := a.phase
	a.mu.Unlock()
	id := a.opt.Identity
	s := agentapi.Status{
		Instance: agentapi.Instance{Name: id.Name, ID: id.ID, Zone: id.Zone, Project: id.Project},
		Ready:    a.Ready(),
		Routes:   statusRoutes(a.wanted),
		Phase:    phase,
		Version:  a.opt.Version,
	}
	if a.opt.DataPlane != nil {
		dp := a.opt.DataPlane.State()
		s.DataPlane = &dp
	}
	return s
}

func (a *Agent) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	if !a.alive(time.Now()) {
		http.Error(w, "not alive: a loop has not run within "+a.opt.AliveWithin.String(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (a *Agent) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	if !a.Ready() {
		a.mu.Lock()
		phase := a.phase
		a.mu.Unlock()
		http.Error(w, "not ready: "+phase, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (a *Agent) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(a.Status())
}
