package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/health"
)

// peerProbeTimeout bounds one peer probe: the reconciler's probe timeout, so
// that a witness reports "no answer" about as soon as the reconciler would.
const peerProbeTimeout = 800 * time.Millisecond

// maxPeerProbes caps probes in flight: a witness is asked about a few peers
// at a time, and the endpoint must not become a way to load the forwarder.
const maxPeerProbes = 8

// peerProbe serves GET /peer-probe?addr=IP: probe a peer's /healthz on the
// same health port over nic0 and say whether it answered. The target must be
// an address on nic0's subnet and the path is fixed, so the endpoint cannot
// be pointed anywhere else.
type peerProbe struct {
	observer string
	port     int
	subnet   *net.IPNet // nic0's; nil: any address is refused
	prober   health.Prober
	slots    chan struct{}
	now      func() time.Time
}

func newPeerProbe(id gce.Identity, port int, prober health.Prober) *peerProbe {
	if prober == nil {
		prober = health.NewHTTPProber(peerProbeTimeout)
	}
	p := &peerProbe{observer: id.Name, port: port, prober: prober,
		slots: make(chan struct{}, maxPeerProbes), now: time.Now}
	for _, nic := range id.NICs {
		if nic.Index != 0 {
			continue
		}
		ip, mask := net.ParseIP(nic.IP), net.IPMask(net.ParseIP(nic.Subnetmask).To4())
		if ip != nil && mask != nil {
			p.subnet = &net.IPNet{IP: ip.Mask(mask), Mask: mask}
		}
	}
	return p
}

func (p *peerProbe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addr := net.ParseIP(r.URL.Query().Get("addr"))
	if addr == nil || p.subnet == nil || !p.subnet.Contains(addr) {
		http.Error(w, "addr must be an IP address on nic0's subnet", http.StatusBadRequest)
		return
	}
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	default:
		http.Error(w, "too many peer probes in flight", http.StatusTooManyRequests)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p.probe(r.Context(), addr.String()))
}

// probe reports whether target answered. Any HTTP status is an answer: a
// peer that says 503 is alive (starting, announcing or draining), which is
// not what a prune on probe evidence may rest on.
func (p *peerProbe) probe(ctx context.Context, target string) agentapi.PeerProbe {
	ctx, cancel := context.WithTimeout(ctx, peerProbeTimeout)
	defer cancel()
	start := p.now()
	url := "http://" + net.JoinHostPort(target, strconv.Itoa(p.port)) + "/healthz"
	err := p.prober.Probe(ctx, url)
	out := agentapi.PeerProbe{Observer: p.observer, Target: target, Answered: true,
		At: start.UTC().Format(time.RFC3339Nano), Took: p.now().Sub(start).String()}
	var se *health.StatusError
	switch {
	case err == nil:
		out.Status = http.StatusOK
	case errors.As(err, &se):
		out.Status = se.Code
	default:
		out.Answered, out.Err = false, err.Error()
	}
	return out
}
