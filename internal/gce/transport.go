package gce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/logging"
)

// methodKey carries the API method name ("routes.insert") from a wrapper
// call down to the transport, which labels metrics and retry logs with it.
type methodKey struct{}

func withMethod(ctx context.Context, method string) context.Context {
	return context.WithValue(ctx, methodKey{}, method)
}

func methodOf(ctx context.Context) string {
	if m, ok := ctx.Value(methodKey{}).(string); ok {
		return m
	}
	return "unknown"
}

// retryPolicy is the retrying base transport's configuration.
type retryPolicy struct {
	max     int
	waitMin time.Duration
	waitMax time.Duration
}

// newRetryingTransport returns the base transport under the Compute client:
// each attempt is counted and timed, failed attempts are retried with
// exponential backoff and full jitter on 429, 5xx (not 501), GCE's 403
// rateLimitExceeded and transport errors. The last response is passed
// through unchanged so that the client library builds its usual error.
// closeIdle releases the pooled connections (Clients.Close).
func newRetryingTransport(p retryPolicy, m *metrics, log *zap.Logger) (rt http.RoundTripper, closeIdle func()) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 16
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: &instrumentedTransport{next: base, metrics: m}}
	rc.Logger = nil
	rc.RetryMax = p.max
	rc.RetryWaitMin = p.waitMin
	rc.RetryWaitMax = p.waitMax
	rc.CheckRetry = checkRetry
	rc.Backoff = jitterBackoff
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.RequestLogHook = func(_ retryablehttp.Logger, req *http.Request, attempt int) {
		if attempt > 0 {
			log.Info("retry", logging.Op("gce.retry"), logging.Method(methodOf(req.Context())),
				logging.Attempt(attempt))
		}
	}
	return &retryablehttp.RoundTripper{Client: rc}, base.CloseIdleConnections
}

// checkRetry decides whether an attempt is retried. QUOTA_EXCEEDED and other
// 403s are final: retrying them only burns the rate limit.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return true, nil
	case code >= 500 && code != http.StatusNotImplemented:
		return true, nil
	case code == http.StatusForbidden:
		return isRateLimitBody(resp), nil
	}
	return false, nil
}

// isRateLimitBody reads a 403 body looking for errors[].reason
// rateLimitExceeded/userRateLimitExceeded and puts the body back so that the
// client library can still decode it.
func isRateLimitBody(resp *http.Response) bool {
	if resp.Body == nil {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	var e struct {
		Error struct {
			Errors []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for _, item := range e.Error.Errors {
		if item.Reason == "rateLimitExceeded" || item.Reason == "userRateLimitExceeded" {
			return true
		}
	}
	return false
}

// jitterBackoff waits a random time in [d/2, d] where d = min·2^attempt
// capped at max, or what Retry-After asks (capped at max) on 429/503.
func jitterBackoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			return min(time.Duration(s)*time.Second, maxWait)
		}
	}
	d := maxWait
	if attempt < 30 {
		d = min(minWait<<attempt, maxWait)
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// metrics are the per-attempt request counters of one Clients.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpclink_gce_requests_total",
			Help: "Compute API HTTP attempts (retries included) by method and status code (\"error\" for transport failures).",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vpclink_gce_request_duration_seconds",
			Help:    "Duration of Compute API HTTP attempts by method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method"}),
	}
	if reg != nil {
		m.requests = registerOrReuse(reg, m.requests)
		m.duration = registerOrReuse(reg, m.duration)
	}
	return m
}

// registerOrReuse lets several Clients share one registry (the lab builds
// one per simulated process).
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

type instrumentedTransport struct {
	next    http.RoundTripper
	metrics *metrics
}

func (t *instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := methodOf(req.Context())
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	t.metrics.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	t.metrics.requests.WithLabelValues(method, code).Inc()
	return resp, err
}

// hostRewriter sends every request to host, whatever the URL says. The
// metadata library always targets GCE_METADATA_HOST or 169.254.169.254; this
// lets one process hold several metadata identities (tests, the lab).
type hostRewriter struct {
	host string
	next http.RoundTripper
}

func (t *hostRewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.URL.Host = t.host
	r.Host = t.host
	return t.next.RoundTrip(r)
}
