package gcefake

import (
	"encoding/json"
	"hash/fnv"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// metadataServer is one instance's metadata endpoint. Each instance gets its
// own listener (rather than one server keyed by caller address) so that a
// guest finds its identity through GCE_METADATA_HOST alone.
type metadataServer struct {
	addr string
	srv  *http.Server
}

func (m *metadataServer) close() { _ = m.srv.Close() }

// startMetadata listens on MetadataBind:0 and serves the incarnation id of
// the instance at key; once that incarnation is gone it answers 404.
func (s *Server) startMetadata(key string, id uint64) (*metadataServer, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.opts.MetadataBind, "0"))
	if err != nil {
		return nil, err
	}
	m := &metadataServer{
		addr: ln.Addr().String(),
		srv: &http.Server{
			Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveMetadata(w, r, key, id) }),
			ReadHeaderTimeout: 10 * time.Second,
		},
	}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

const metadataPrefix = "/computeMetadata/v1/"

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request, key string, id uint64) {
	w.Header().Set("Metadata-Flavor", "Google")
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing required header: Metadata-Flavor", http.StatusForbidden)
		return
	}
	if !strings.HasPrefix(r.URL.Path, metadataPrefix) {
		http.NotFound(w, r)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, metadataPrefix)
	q := r.URL.Query()
	recursive := q.Get("recursive") == "true"
	var deadline <-chan time.Time
	wait := q.Get("wait_for_change") == "true"
	if wait {
		if sec, err := strconv.Atoi(q.Get("timeout_sec")); err == nil && sec > 0 {
			t := time.NewTimer(time.Duration(sec) * time.Second)
			defer t.Stop()
			deadline = t.C
		}
	}
	for {
		s.mu.Lock()
		in := s.instances[key]
		if in == nil || in.pub.ID != id {
			s.mu.Unlock()
			http.NotFound(w, r)
			return
		}
		num := s.projectLocked(in.pub.Project).number
		value, isJSON, ok := metadataValue(in, num, path, recursive)
		changed := in.mdChanged
		s.mu.Unlock()
		etag := metadataETag(value, ok)
		// wait_for_change answers at once when last_etag differs from the
		// current ETag, else when the value changes or timeout_sec ends
		// (then with the unchanged value). Source: "Waiting for updates",
		// the metadata server's documentation (wait_for_change, last_etag,
		// timeout_sec, ETag header).
		if wait && (q.Get("last_etag") == "" || q.Get("last_etag") == etag) {
			select {
			case <-changed:
				if q.Get("last_etag") == "" {
					q.Set("last_etag", etag)
				}
				continue
			case <-deadline:
			case <-r.Context().Done():
				return
			case <-s.ctx.Done():
				return
			}
		}
		w.Header().Set("ETag", etag)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if isJSON {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "application/text")
		}
		_, _ = w.Write([]byte(value))
		return
	}
}

// metadataETag is the ETag of a metadata document: a hash of its contents
// (and of whether it exists), so it changes exactly when the value does.
func metadataETag(value string, ok bool) string {
	h := fnv.New64a()
	h.Write([]byte(value))
	if !ok {
		h.Write([]byte{0})
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

// metadataValue returns the document at path for in. Directories end in "/"
// and list their entries one per line, or are JSON with recursive (only the
// network-interfaces/ and attributes/ directories support it).
func metadataValue(in *instance, projectNum uint64, path string, recursive bool) (value string, isJSON, ok bool) {
	p := in.pub
	switch path {
	case "project/project-id":
		return p.Project, false, true
	case "project/numeric-project-id":
		return strconv.FormatUint(projectNum, 10), false, true
	case "instance/id":
		return strconv.FormatUint(p.ID, 10), false, true
	case "instance/name":
		return p.Name, false, true
	case "instance/hostname":
		return p.Name + "." + p.Zone + ".c." + p.Project + ".internal", false, true
	case "instance/zone":
		return "projects/" + strconv.FormatUint(projectNum, 10) + "/zones/" + p.Zone, false, true
	case "instance/network-interfaces", "instance/network-interfaces/":
		if recursive {
			var all []map[string]string
			for i := range p.NICs {
				all = append(all, nicDoc(in, projectNum, i))
			}
			return mustJSON(all), true, true
		}
		var b strings.Builder
		for i := range p.NICs {
			b.WriteString(strconv.Itoa(i) + "/\n")
		}
		return b.String(), false, true
	case "instance/attributes", "instance/attributes/":
		if recursive {
			return mustJSON(in.metadata), true, true
		}
		keys := make([]string, 0, len(in.metadata))
		for k := range in.metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return strings.Join(keys, "\n") + trailingNewline(keys), false, true
	}
	if k, found := strings.CutPrefix(path, "instance/attributes/"); found {
		v, ok := in.metadata[k]
		return v, false, ok
	}
	if rest, found := strings.CutPrefix(path, "instance/network-interfaces/"); found {
		idx, field, _ := strings.Cut(rest, "/")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(p.NICs) {
			return "", false, false
		}
		doc := nicDoc(in, projectNum, i)
		if field == "" {
			if recursive {
				return mustJSON(doc), true, true
			}
			return "gateway\nip\nmac\nnetwork\nsubnetmask\n", false, true
		}
		v, ok := doc[field]
		return v, false, ok
	}
	return "", false, false
}

// nicDoc is network-interfaces/i as GCE's metadata server describes it.
func nicDoc(in *instance, projectNum uint64, i int) map[string]string {
	nic := in.pub.NICs[i]
	np, _, _ := parseNetwork(in.pub.Project, in.netURLs[i])
	num := projectNum
	if np != in.pub.Project {
		num = projectNumber(np)
	}
	return map[string]string{
		"ip":         nic.IP,
		"mac":        nic.MAC,
		"gateway":    nic.Gateway,
		"network":    "projects/" + strconv.FormatUint(num, 10) + "/networks/" + nic.Network,
		"subnetmask": nic.Subnetmask,
	}
}

func trailingNewline(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return "\n"
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
