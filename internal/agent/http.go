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

// Ready reports whether the forwarder should receive traffic: the routes
// are announced, no drain has begun and the data plane is ready.
func (a *Agent) Ready() bool {
	return a.getPhase() == PhaseServing && a.forwarding()
}

// forwarding reports whether the data plane is what the forwarder needs.
func (a *Agent) forwarding() bool {
	return a.opt.DataPlane != nil && a.opt.DataPlane.Ready()
}

// Status is the /status body.
func (a *Agent) Status() agentapi.Status {
	phase := a.getPhase()
	id := a.opt.Identity
	s := agentapi.Status{
		Instance:   agentapi.Instance{Name: id.Name, ID: id.ID, Zone: id.Zone, Project: id.Project},
		Ready:      a.Ready(),
		Routes:     statusRoutes(a.wanted),
		Phase:      phase,
		Forwarding: a.forwarding(),
		Draining:   phase == PhaseDraining || phase == PhaseDrained,
		Version:    a.opt.Version,
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

// serveReadyz answers 200 "ok" or 503 "not ready: PHASE[: why]", and
// names the phase in a header either way, so that a prober tells a
// forwarder coming up from one that cannot forward (internal/agentapi).
func (a *Agent) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	phase := a.getPhase()
	w.Header().Set(agentapi.PhaseHeader, phase)
	if a.Ready() {
		fmt.Fprintln(w, "ok")
		return
	}
	why := "not ready: " + phase
	if phase == PhaseServing && !a.forwarding() {
		why += ": data plane not ready, cannot forward"
	}
	http.Error(w, why, http.StatusServiceUnavailable)
}

func (a *Agent) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(a.Status())
}
