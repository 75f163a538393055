package gce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"github.com/googleapis/gax-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/api/option"
	httptransport "google.golang.org/api/transport/http"
)

// EndpointEnv names the environment variable that points the Compute client
// at another endpoint (the fake) and turns credentials off.
const EndpointEnv = "VPCLINK_COMPUTE_ENDPOINT"

// ClientOptions configures NewClients. The zero value is production with
// default credentials.
type ClientOptions struct {
	// Endpoint overrides VPCLINK_COMPUTE_ENDPOINT, e.g. http://127.0.0.1:8080/.
	// When either is set no credentials are sent.
	Endpoint string
	// CallTimeout bounds each call including its retries and its operation
	// wait (default 60s). A shorter deadline on the caller's context wins.
	CallTimeout time.Duration
	// OpPoll is the first interval between operation polls (default 100ms);
	// it grows by half each poll up to 1s.
	OpPoll time.Duration
	// RetryMax is how many times the transport retries one HTTP request
	// (default 5; negative means none).
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the backoff between retries
	// (defaults 250ms and 8s).
	RetryWaitMin time.Duration
	RetryWaitMax time.Duration
	Log          *zap.Logger
	// Registerer receives vpclink_gce_requests_total{method,code} and
	// vpclink_gce_request_duration_seconds{method}; nil registers nothing.
	Registerer prometheus.Registerer
}

// Clients holds the Compute API implementations. Close releases them.
type Clients struct {
	Routes    Routes
	Instances Instances
	Groups    Groups
	close     func() error
}

// Close releases the underlying API clients.
func (c *Clients) Close() error {
	if c == nil || c.close == nil {
		return nil
	}
	return c.close()
}

// core is what every wrapper shares: deadlines, operation polling and logs.
type core struct {
	timeout time.Duration
	opPoll  time.Duration
	log     *zap.Logger
}

// begin returns the context a wrapper call runs under: the call timeout and
// the method name for the transport's metrics.
func (c *core) begin(ctx context.Context, method string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	return withMethod(ctx, method), cancel
}

// noLibraryRetry turns off gax's own retries (Get and List retry 503/504 for
// up to 600 s by default): the transport already retries, with our limits.
var noLibraryRetry = gax.WithRetry(func() gax.Retryer { return nil })

// NewClients builds the Compute clients. With an endpoint (opts.Endpoint or
// VPCLINK_COMPUTE_ENDPOINT) it talks plain HTTP to it without credentials;
// otherwise it wraps the retrying transport with Application Default
// Credentials.
func NewClients(ctx context.Context, opts ClientOptions) (*Clients, error) {
	opts = withDefaults(opts)
	m := newMetrics(opts.Registerer)
	base, closeIdle := newRetryingTransport(retryPolicy{max: opts.RetryMax, waitMin: opts.RetryWaitMin, waitMax: opts.RetryWaitMax}, m, opts.Log)

	var clientOpts []option.ClientOption
	if opts.Endpoint != "" {
		// The library appends "/compute/v1/..." to the endpoint's path; a
		// trailing slash would make it "//compute".
		clientOpts = append(clientOpts,
			option.WithEndpoint(strings.TrimRight(opts.Endpoint, "/")),
			option.WithoutAuthentication(),
			option.WithHTTPClient(&http.Client{Transport: base}))
	} else {
		authed, err := httptransport.NewTransport(ctx, base, option.WithScopes(compute.DefaultAuthScopes()...))
		if err != nil {
			return nil, fmt.Errorf("compute credentials: %w", err)
		}
		clientOpts = append(clientOpts, option.WithHTTPClient(&http.Client{Transport: authed}))
	}

	closers := []func() error{func() error { closeIdle(); return nil }}
	closeAll := func() error {
		var errs []error
		for _, f := range closers {
			errs = append(errs, f())
		}
		return errors.Join(errs...)
	}
	routes, err := compute.NewRoutesRESTClient(ctx, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("routes client: %w", err)
	}
	closers = append(closers, routes.Close)
	instances, err := compute.NewInstancesRESTClient(ctx, clientOpts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("instances client: %w", err), closeAll())
	}
	closers = append(closers, instances.Close)
	zonal, err := compute.NewInstanceGroupManagersRESTClient(ctx, clientOpts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("instance group managers client: %w", err), closeAll())
	}
	closers = append(closers, zonal.Close)
	regional, err := compute.NewRegionInstanceGroupManagersRESTClient(ctx, clientOpts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("region instance group managers client: %w", err), closeAll())
	}
	closers = append(closers, regional.Close)

	c := &core{timeout: opts.CallTimeout, opPoll: opts.OpPoll, log: opts.Log}
	return &Clients{
		Routes:    &routesAPI{core: c, client: routes},
		Instances: &instancesAPI{core: c, client: instances},
		Groups:    &groupsAPI{core: c, zonal: zonal, regional: regional},
		close:     closeAll,
	}, nil
}

func withDefaults(opts ClientOptions) ClientOptions {
	if opts.Endpoint == "" {
		opts.Endpoint = os.Getenv(EndpointEnv)
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 60 * time.Second
	}
	if opts.OpPoll <= 0 {
		opts.OpPoll = 100 * time.Millisecond
	}
	switch {
	case opts.RetryMax == 0:
		opts.RetryMax = 5
	case opts.RetryMax < 0:
		opts.RetryMax = 0
	}
	if opts.RetryWaitMin <= 0 {
		opts.RetryWaitMin = 250 * time.Millisecond
	}
	if opts.RetryWaitMax <= 0 {
		opts.RetryWaitMax = 8 * time.Second
	}
	if opts.RetryWaitMax < opts.RetryWaitMin {
		opts.RetryWaitMax = opts.RetryWaitMin
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	return opts
}
