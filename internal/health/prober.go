package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
)

// Prober makes one readiness probe: nil means ready. It must not retry: a
// retry hides a failure for the length of the retry and delays detection.
// The context carries the probe's deadline.
type Prober interface {
	Probe(ctx context.Context, url string) error
}

// StatusError is a probe answered with a status other than 2xx.
type StatusError struct {
	URL  string
	Code int
	// Phase is the agent's phase on a 503: its Vpclink-Phase header
	// (agentapi.PhaseHeader), or a body "not ready: PHASE" from agents that
	// send no header; else empty.
	Phase string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("GET %s: status %d %s", e.URL, e.Code, http.StatusText(e.Code))
	if e.Phase != "" {
		s += ": agent is " + e.Phase
	}
	return s
}

// Evidence is what one probe result says about a forwarder.
type Evidence int

// Probe evidence. "Does not answer" and "answers: I cannot forward" are both
// Failed; an answer that the agent is on its way in or out is no failure.
const (
	// Ready: any 2xx. The agent's data plane is ready and its routes announced.
	Ready Evidence = iota
	// ComingUp: 503 "not ready: starting" or "not ready: announcing". The
	// agent runs and is still converging its data plane or inserting its
	// routes; it is Starting (invariant 6), neither failing nor healthy.
	ComingUp
	// Withdrawing: 503 "not ready: draining" or "not ready: drained". The
	// agent is withdrawing its routes on purpose (invariant 4) while it still
	// forwards; pruning or restoring them would only fight it.
	Withdrawing
	// Failed: no answer (refused, reset, timeout), or an answer that the
	// forwarder cannot forward (503 while serving: its data plane broke;
	// any other status or a redirect).
	Failed
)

// Classify returns the evidence of a probe result and, for answers that
// name one, the agent's phase.
func Classify(err error) (Evidence, string) {
	if err == nil {
		return Ready, ""
	}
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusServiceUnavailable {
		switch se.Phase {
		case "starting", "announcing":
			return ComingUp, se.Phase
		case "draining", "drained":
			return Withdrawing, se.Phase
		}
	}
	return Failed, ""
}

// notReadyPrefix starts the agent's 503 /readyz body: "not ready: PHASE".
const notReadyPrefix = "not ready: "

// phaseOf reads PHASE from a /readyz body, or "".
func phaseOf(body []byte) string {
	s := strings.TrimSpace(string(body))
	phase, ok := strings.CutPrefix(s, notReadyPrefix)
	if !ok || strings.ContainsAny(phase, " \n") {
		return ""
	}
	return phase
}

// Idle keep-alive connections kept for probing: one per forwarder, so that a
// steady probe costs no TCP handshake, up to this many forwarders. Beyond it
// probes still work and re-dial.
const maxIdleProbeConns = 1024

// maxProbeBody is how much of a response body is read so the connection can
// be reused; /readyz answers are tiny.
const maxProbeBody = 4 << 10

type httpProber struct{ client *http.Client }

// NewHTTPProber returns a Prober that GETs the URL and accepts any 2xx.
// Redirects are not followed (a readiness endpoint that redirects is
// misconfigured); no proxy is used (probes go straight to nic0 addresses);
// connections are kept alive, bounded in number. timeout bounds each probe
// on top of the context's deadline.
func NewHTTPProber(timeout time.Duration) Prober {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          maxIdleProbeConns,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
	}
	return &httpProber{client: &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

func (p *httpProber) Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "vpclink-probe")
	resp, err := p.client.Do(req)
	if err != nil {
		return err // *url.Error: names method and URL already
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{URL: url, Code: resp.StatusCode}
		if resp.StatusCode == http.StatusServiceUnavailable {
			se.Phase = resp.Header.Get(agentapi.PhaseHeader)
			if se.Phase == "" {
				se.Phase = phaseOf(body)
			}
		}
		return se
	}
	return nil
}

// failureReason is the metric label for a failed probe.
func failureReason(err error) string {
	var se *StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return "status"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	return "other"
}
