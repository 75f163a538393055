package reconciler

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vpclink/vpclink/internal/health"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// StatusDoc is the reconciler's GET /status body.
type StatusDoc struct {
	FailStatic FailStaticDoc `json:"failStatic"`
	// Uncorroborated are the forwarders whose probe prunes are held
	// because no second vantage point agrees.
	Uncorroborated []HeldDoc      `json:"uncorroborated,omitempty"`
	LastPass       *PassDoc       `json:"lastPass"`
	Forwarders     []ForwarderDoc `json:"forwarders"`
}

// HeldDoc is a forwarder whose probe-evidence prune is held.
type HeldDoc struct {
	Group    string `json:"group"`
	Instance string `json:"instance"`
	Reason   string `json:"reason"`
}

// CorroborationDoc is what the peers asked about a suspect forwarder saw:
// who corroborated its verdict (agree) and who saw it answer (disagree).
type CorroborationDoc struct {
	Down     bool     `json:"down"`
	Agree    []string `json:"agree,omitempty"`
	Disagree []string `json:"disagree,omitempty"`
	Stale    int      `json:"stale,omitempty"`
	Reason   string   `json:"reason"`
}

// FailStaticDoc is the fail-static verdict of the last pass.
type FailStaticDoc struct {
	Engaged bool     `json:"engaged"`
	Reason  string   `json:"reason,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// PassDoc summarises the last pass.
type PassDoc struct {
	Start           time.Time   `json:"start"`
	DurationSeconds float64     `json:"durationSeconds"`
	Error           string      `json:"error,omitempty"`
	Actions         []ActionDoc `json:"actions"`
	Rejected        []RejectDoc `json:"rejected,omitempty"`
}

// ActionDoc is one action of the last pass and its result.
type ActionDoc struct {
	Op       string `json:"op"`
	Route    string `json:"route"`
	Instance string `json:"instance"`
	Evidence string `json:"evidence"`
	Reason   string `json:"reason"`
	After    string `json:"after,omitempty"`
	Result   string `json:"result"` // ok, error, skipped, issued (still running), inflight (issued earlier)
	Error    string `json:"error,omitempty"`
}

// RejectDoc is a wanted route the reconciler refused to create.
type RejectDoc struct {
	Instance string `json:"instance"`
	Route    string `json:"route,omitempty"`
	Reason   string `json:"reason"`
}

// ForwarderDoc is one forwarder as the last pass saw it.
type ForwarderDoc struct {
	Group    string    `json:"group"`
	Instance string    `json:"instance"`
	ID       string    `json:"id"`
	Zone     string    `json:"zone"`
	IP       string    `json:"ip,omitempty"`
	Status   string    `json:"status"`
	Action   string    `json:"action,omitempty"`
	Health   string    `json:"health"`
	State    string    `json:"state"`
	Evidence string    `json:"evidence,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	Routes   []string  `json:"routes"`
	// Corroboration is present while the forwarder is suspect and its
	// peers were asked.
	Corroboration *CorroborationDoc `json:"corroboration,omitempty"`
}

// StatusDocument renders a report as /status serves it.
func StatusDocument(rep Report) StatusDoc {
	p := rep.Decision
	doc := StatusDoc{
		FailStatic: FailStaticDoc{Engaged: p.FailStatic.Engaged, Reason: p.FailStatic.Reason, Groups: p.FailStatic.Groups},
		Forwarders: []ForwarderDoc{},
	}
	for _, f := range p.Forwarders {
		routes := f.Routes
		if routes == nil {
			routes = []string{}
		}
		doc.Forwarders = append(doc.Forwarders, ForwarderDoc{
			Group: f.Group, Instance: f.Name, ID: f.ID.String(), Zone: f.Zone, IP: f.IP,
			Status: f.Status, Action: f.Action, Health: string(f.Health), State: string(f.State),
			Evidence: f.Evidence, Created: f.Created, Routes: routes, Corroboration: corroborationDoc(f),
		})
	}
	for _, hd := range p.Uncorroborated {
		doc.Uncorroborated = append(doc.Uncorroborated, HeldDoc{Group: hd.Group, Instance: hd.Instance, Reason: hd.Reason})
	}
	if rep.Start.IsZero() {
		return doc
	}
	pass := &PassDoc{Start: rep.Start, DurationSeconds: rep.Duration.Seconds(), Actions: []ActionDoc{}}
	if rep.Err != nil {
		pass.Error = rep.Err.Error()
	}
	for _, o := range rep.Outcomes {
		a := ActionDoc{Op: string(o.Action.Op), Route: o.Action.Route.Name, Instance: o.Action.Instance,
			Evidence: string(o.Action.Evidence), Reason: o.Action.Reason, After: o.Action.After, Result: "ok"}
		switch {
		case o.InFlight:
			a.Result = "inflight"
		case o.Pending:
			a.Result = "issued"
		case o.Skipped:
			a.Result = "skipped"
		case o.Err != nil:
			a.Result, a.Error = "error", o.Err.Error()
		}
		pass.Actions = append(pass.Actions, a)
	}
	for _, rj := range p.Rejected {
		pass.Rejected = append(pass.Rejected, RejectDoc{Instance: rj.Instance, Route: rj.Route, Reason: rj.Reason})
	}
	doc.LastPass = pass
	return doc
}

// Handler serves /status (JSON), /metrics (from gatherer) and /healthz.
func (r *Reconciler) Handler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(StatusDocument(r.LastReport()))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if age, ok := r.passAge(time.Now()); !ok {
			http.Error(w, fmt.Sprintf("no pass has read every group for %s (healthz.failAfter %s)",
				age.Round(time.Second), r.cfg.Healthz.FailAfter.Duration), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	if gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// passAge returns how long ago the last pass that read every group read
// (since start when none has), and whether that is within
// healthz.failAfter. A reconciler that cannot read fails its health check,
// so that its MIG recreates it.
func (r *Reconciler) passAge(now time.Time) (time.Duration, bool) {
	r.mu.Lock()
	last := r.lastOK
	if last.IsZero() {
		last = r.started
	}
	r.mu.Unlock()
	age := now.Sub(last)
	limit := r.cfg.Healthz.FailAfter.Duration
	return age, limit <= 0 || age <= limit
}

// allDecided reports whether every one of want targets has left Starting.
func allDecided(states map[string]health.State, want int) bool {
	if len(states) < want {
		return false
	}
	for _, s := range states {
		if s.Verdict == health.Starting {
			return false
		}
	}
	return true
}

func corroborationDoc(f routeplan.Forwarder) *CorroborationDoc {
	j := f.Judgement
	if j == nil {
		return nil
	}
	return &CorroborationDoc{Down: j.Down, Agree: j.Agree, Disagree: j.Disagree, Stale: j.Stale, Reason: j.Reason}
}
