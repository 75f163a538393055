package agent

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/kernel/kerneltest"
	"github.com/vpclink/vpclink/internal/logging"
)

const testProject = "proj"
const testZone = "us-central1-a"

// testConfig is the agent config the tests announce: two ranges on vpc-a
// with nextHopInstance, one on vpc-b with nextHopIp.
const testConfig = `
routes:
  - network: vpc-a
    destRanges: [10.19.16.0/20, 10.19.32.0/20]
    priority: 900
    tags: [fwd-clients]
  - network: vpc-b
    destRanges: [10.0.0.0/16]
    priority: 800
    nextHop: ip
policyRouting: {nic: 1, table: 1, tableName: rt1, via: [10.19.16.0/20]}
drain: {grace: 300ms}
`

// env is one fake GCE, reached over HTTP by the real Compute client.
type env struct {
	t       testing.TB
	fake    *gcefake.Server
	clients *gce.Clients
	routes  *recordingRoutes
	logs    *syncBuffer
	log     *zap.Logger
	// reg carries the keeper's and the agent's metrics, as in main.
	reg *prometheus.Registry
	// fwd is the forwarder namespace of the last newTestDataPlane.
	fwd *kerneltest.NS
	// kernel is the in-memory kernel of the last fakeDataPlane.
	kernel *kerneltest.Fake
}

func newEnv(t testing.TB, opts gcefake.Options) *env {
	t.Helper()
	fake := gcefake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { srv.Close(); fake.Close() })
	e := &env{t: t, fake: fake, logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	e.log = logging.NewTo(e.logs, zapcore.DebugLevel)
	clients, err := gce.NewClients(context.Background(), gce.ClientOptions{
		Endpoint: srv.URL, RetryWaitMin: 5 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond, OpPoll: 10 * time.Millisecond,
		Log: e.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = clients.Close() })
	e.clients = clients
	e.routes = &recordingRoutes{next: clients.Routes}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent logs:\n%s", e.logs.String())
		}
	})
	return e
}

// createInstance makes a RUNNING forwarder with nic0 on vpc-a and nic1 on
// vpc-b whose vpclink-config is cfg.
func (e *env) createInstance(name, cfg string) gcefake.Instance {
	e.t.Helper()
	inst, err := e.fake.CreateInstance(gcefake.InstanceSpec{
		Project: testProject, Zone: testZone, Name: name,
		NICs:     []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}, {Network: "vpc-b", Subnet: "10.0.3.0/24"}},
		Metadata: map[string]string{"vpclink-config": cfg},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return inst
}

// agentFor reads the instance's identity and config from its metadata
// server (real metadata client) and builds an agent on dp.
func (e *env) agentFor(inst gcefake.Instance, dp DataPlane, tweak func(*Options)) *Agent {
	e.t.Helper()
	ctx := context.Background()
	md := gce.NewMetadata(inst.MetadataHost)
	id, err := md.Identity(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	text, found, err := md.Attribute(ctx, "vpclink-config")
	if err != nil || !found {
		e.t.Fatalf("vpclink-config: found %v, %v", found, err)
	}
	cfg, err := config.LoadAgent([]byte(text))
	if err != nil {
		e.t.Fatal(err)
	}
	opts := Options{
		Identity: id, Group: "fwd", Config: cfg, Version: "test", Routes: e.routes,
		DataPlane: dp, Log: e.log,
		Backoff:     Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		StopTimeout: 20 * time.Second,
	}
	if dp != nil {
		opts.Registerer, opts.Gatherer = e.reg, e.reg
	}
	if tweak != nil {
		tweak(&opts)
	}
	a, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// running is an agent whose Run is in progress.
type running struct {
	a       *Agent
	stop    context.CancelFunc // what main does on SIGTERM
	done    chan error
	stopped time.Time
}

func start(a *Agent) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{a: a, done: make(chan error, 1)}
	r.stop = func() { r.stopped = time.Now(); cancel() }
	go func() { r.done <- a.Run(ctx) }()
	return r
}

// wait returns Run's result, failing the test after d.
func (r *running) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
		return nil
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// liveRouteNames is the fake's live route names.
func (e *env) liveRouteNames() []string {
	var names []string
	for _, r := range e.fake.Routes(testProject) {
		names = append(names, r.GetName())
	}
	return names
}

// callRecord is one finished call through recordingRoutes.
type callRecord struct {
	op, name   string
	start, end time.Time
	err        error
}

// recordingRoutes passes every call to the real client and records it.
type recordingRoutes struct {
	next  gce.Routes
	mu    sync.Mutex
	calls []callRecord
}

func (r *recordingRoutes) record(op, name string, start time.Time, err error) {
	r.mu.Lock()
	r.calls = append(r.calls, callRecord{op: op, name: name, start: start, end: time.Now(), err: err})
	r.mu.Unlock()
}

func (r *recordingRoutes) List(ctx context.Context, project, prefix string) ([]gce.Route, error) {
	start := time.Now()
	out, err := r.next.List(ctx, project, prefix)
	r.record("list", prefix, start, err)
	return out, err
}

func (r *recordingRoutes) Get(ctx context.Context, project, name string) (gce.Route, error) {
	start := time.Now()
	out, err := r.next.Get(ctx, project, name)
	r.record("get", name, start, err)
	return out, err
}

func (r *recordingRoutes) Insert(ctx context.Context, rt gce.Route) error {
	start := time.Now()
	err := r.next.Insert(ctx, rt)
	r.record("insert", rt.Name, start, err)
	return err
}

func (r *recordingRoutes) Delete(ctx context.Context, project, name string) error {
	start := time.Now()
	err := r.next.Delete(ctx, project, name)
	r.record("delete", name, start, err)
	return err
}

func (r *recordingRoutes) snapshot() []callRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]callRecord(nil), r.calls...)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines containing every one of subs.
func (b *syncBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}
