package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
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
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: status %d %s", e.URL, e.Code, http.StatusText(e.Code))
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
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{URL: url, Code: resp.StatusCode}
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
