package gcefake

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
)

// registerControl serves the /_fake/ control API: the Go API as JSON over
// HTTP, for the lab's other processes and for shell scripts.
func (s *Server) registerControl() {
	const inst = "/_fake/instances/{project}/{zone}/{name}"
	s.mux.HandleFunc("GET /_fake/instances", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Instances())
	})
	s.mux.HandleFunc("POST /_fake/instances", func(w http.ResponseWriter, r *http.Request) {
		var spec InstanceSpec
		if decode(w, r, &spec) {
			in, err := s.CreateInstance(spec)
			reply(w, in, err)
		}
	})
	s.mux.HandleFunc("GET "+inst, func(w http.ResponseWriter, r *http.Request) {
		in, ok := s.Instance(r.PathValue("project"), r.PathValue("zone"), r.PathValue("name"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "instance not found"})
			return
		}
		writeJSON(w, http.StatusOK, in)
	})
	s.mux.HandleFunc("DELETE "+inst, func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, s.DeleteInstance(r.PathValue("project"), r.PathValue("zone"), r.PathValue("name")))
	})
	s.mux.HandleFunc("POST "+inst+"/status", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Status string `json:"status"`
		}
		if decode(w, r, &body) {
			reply(w, nil, s.SetStatus(r.PathValue("project"), r.PathValue("zone"), r.PathValue("name"), body.Status))
		}
	})
	s.mux.HandleFunc("POST "+inst+"/panic", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, s.Panic(r.PathValue("project"), r.PathValue("zone"), r.PathValue("name")))
	})
	s.mux.HandleFunc("POST "+inst+"/attributes", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		}
		if decode(w, r, &body) {
			reply(w, nil, s.SetAttribute(r.PathValue("project"), r.PathValue("zone"), r.PathValue("name"), body.Key, body.Value))
		}
	})
	s.mux.HandleFunc("POST /_fake/groups", func(w http.ResponseWriter, r *http.Request) {
		var spec GroupSpec
		if decode(w, r, &spec) {
			reply(w, nil, s.CreateGroup(spec))
		}
	})
	const grp = "/_fake/groups/{project}/{location}/{name}"
	s.mux.HandleFunc("POST "+grp+"/template", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Template string `json:"template"`
		}
		if decode(w, r, &body) {
			reply(w, nil, s.SetGroupTemplate(r.PathValue("project"), r.PathValue("location"), r.PathValue("name"), body.Template))
		}
	})
	s.mux.HandleFunc("POST "+grp+"/update-policy", func(w http.ResponseWriter, r *http.Request) {
		var body UpdatePolicy
		if decode(w, r, &body) {
			reply(w, nil, s.SetUpdatePolicy(r.PathValue("project"), r.PathValue("location"), r.PathValue("name"), body))
		}
	})
	s.mux.HandleFunc("POST /_fake/templates", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Project string `json:"project"`
			Name    string `json:"name"`
			Template
		}
		if decode(w, r, &body) {
			s.DefineTemplate(body.Project, body.Name, body.Template)
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("POST /_fake/networks", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Project string   `json:"project"`
			Network string   `json:"network"`
			Subnets []string `json:"subnets"`
		}
		if decode(w, r, &body) {
			reply(w, nil, s.DefineNetwork(body.Project, body.Network, body.Subnets...))
		}
	})
	s.mux.HandleFunc("POST /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Method string `json:"method"`
			Fault
		}
		if decode(w, r, &body) {
			if body.Method == "" {
				body.Method = AllMethods
			}
			if err := validateFault(body.Fault); err != nil {
				reply(w, nil, err)
				return
			}
			s.SetFault(body.Method, body.Fault)
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("POST /_fake/latency", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Method  string   `json:"method"`
			Latency duration `json:"latency"`
		}
		if decode(w, r, &body) {
			if body.Method == "" {
				body.Method = AllMethods
			}
			s.SetLatency(body.Method, time.Duration(body.Latency))
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("POST /_fake/op-latency", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Method  string  `json:"method"`
			Latency Latency `json:"latency"`
		}
		if decode(w, r, &body) {
			if body.Method == "" {
				body.Method = AllMethods
			}
			s.SetOpLatency(body.Method, body.Latency)
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("POST /_fake/propagation", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Latency Latency `json:"latency"`
		}
		if decode(w, r, &body) {
			s.SetPropagation(body.Latency)
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("GET /_fake/operations-log", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.OperationLog())
	})
	s.mux.HandleFunc("GET /_fake/effective-log", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.EffectiveLog())
	})
	s.mux.HandleFunc("POST /_fake/rate-limit", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Project         string `json:"project"`
			ReadsPerMinute  int    `json:"readsPerMinute"`
			WritesPerMinute int    `json:"writesPerMinute"`
		}
		if decode(w, r, &body) {
			s.SetRateLimit(body.Project, body.ReadsPerMinute, body.WritesPerMinute)
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("POST /_fake/rate-limit/spend-writes", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Project string `json:"project"`
		}
		if decode(w, r, &body) {
			s.SpendWriteBudget(body.Project)
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("POST /_fake/concurrent-operations", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Project string `json:"project"`
			Limit   int    `json:"limit"`
		}
		if decode(w, r, &body) {
			s.SetConcurrentOperationsLimit(body.Project, body.Limit)
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("POST /_fake/quota", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Project string `json:"project"`
			Network string `json:"network"`
			Limit   int    `json:"limit"`
		}
		if decode(w, r, &body) {
			s.SetQuota(body.Project, body.Network, body.Limit)
			reply(w, nil, nil)
		}
	})
	s.mux.HandleFunc("GET /_fake/effective-routes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, orEmpty(s.EffectiveRoutes()))
	})
	s.mux.HandleFunc("GET /_fake/routes/{project}", func(w http.ResponseWriter, r *http.Request) {
		list := &computepb.RouteList{Items: s.Routes(r.PathValue("project"))}
		buf, _ := protojson.Marshal(list)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(buf)
	})
	s.mux.HandleFunc("GET /_fake/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.RequestCounts())
	})
	s.mux.HandleFunc("DELETE /_fake/requests", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRequestCounts()
		reply(w, nil, nil)
	})
	s.mux.HandleFunc("GET /_fake/watch", s.handleWatch)
}

// validateFault accepts the rates and codes GCE's own faults have.
func validateFault(f Fault) error {
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("fault rate %v: want 0..1", f.Rate)
	}
	for _, c := range f.Codes {
		if c != http.StatusBadRequest && c != http.StatusForbidden && c != http.StatusTooManyRequests && c != http.StatusInternalServerError && c != http.StatusServiceUnavailable {
			return fmt.Errorf("fault code %d: want 400, 403, 429, 500 or 503", c)
		}
	}
	return nil
}

// watchEvent is one line of the /_fake/watch stream.
type watchEvent struct {
	Instances       []Instance       `json:"instances"`
	EffectiveRoutes []EffectiveRoute `json:"effectiveRoutes"`
}

// handleWatch streams the change feed as JSON lines: the current state at
// once, then the state after each (coalesced) change, until the client goes.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	changes, cancel := s.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for {
		ev := watchEvent{Instances: s.Instances(), EffectiveRoutes: orEmpty(s.EffectiveRoutes())}
		if err := enc.Encode(ev); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case _, ok := <-changes:
			if !ok {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// duration is a time.Duration in JSON as a Go duration string ("1.5s") or
// a number of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*d = duration(x * float64(time.Second))
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return err
		}
		*d = duration(p)
	default:
		return errors.New("duration: want a string like \"2s\" or seconds")
	}
	return nil
}

// decode reads a JSON body into v, rejecting unknown fields; on failure it
// has answered 400 and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body: " + err.Error()})
		return false
	}
	return true
}

// reply answers v (or {} when nil) or the error: 404 when it says "not
// found", 400 otherwise.
func reply(w http.ResponseWriter, v any, err error) {
	switch {
	case err != nil && strings.Contains(err.Error(), "not found"):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case v == nil:
		writeJSON(w, http.StatusOK, struct{}{})
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
