package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

// The lab's GCE world: one project, one zonal forwarder group.
const (
	Project     = "vl-lab"
	Zone        = "us-central1-a"
	GroupName   = "fwd"
	RoutePrefix = "vpclink"
	apiPort     = 8780
	tcpFlows    = 8
	// bootGrace is the reconciler's boot grace in the lab: a forwarder
	// younger than this with no successful probe is left alone, so panic
	// scenarios wait until their victims are older.
	bootGrace = 15 * time.Second
)

// Options configures a lab run.
type Options struct {
	Topology   Topology // already built (see Build); the lab runs in its mgmt namespace
	Exe        string   // vpclink binary for agents and the reconciler
	Scenarios  []string // names; empty: all, in the canonical order
	Forwarders int      // group size for rolling-update and the panic scenarios (default 3)
	OpLatency  time.Duration
	RouteGrace time.Duration
	BootDelay  time.Duration
	DrainGrace time.Duration // the agents' drain.grace and the rollout's
	LogDir     string        // agent, reconciler and lab logs
	Progress   io.Writer     // one line per step, for people
	Log        *zap.Logger
}

// DefaultOptions are the lab's defaults: the latency model DESIGN.md's
// timing budget is stated for.
func DefaultOptions() Options {
	return Options{
		Forwarders: 3,
		OpLatency:  2 * time.Second,
		// GCE kept routes of terminated next hops in effect 1–2 minutes.
		RouteGrace: 60 * time.Second,
		BootDelay:  3 * time.Second,
		DrainGrace: 3 * time.Second,
	}
}

// env is a running lab: fake GCE, fabric, forwarders, reconciler, API client.
type env struct {
	opts   Options
	topo   Topology
	fake   *gcefake.Server
	http   *http.Server
	fabric *Fabric
	fwd    *Forwarders
	rec    *reconcilerProc
	api    *gce.Clients
	group  gce.GroupRef
	routes fakeRoutes
	cancel context.CancelFunc
	log    *zap.Logger
}

func (e *env) printf(format string, args ...any) {
	fmt.Fprintf(e.opts.Progress, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
}

// Model returns the latency model a run with opts is measured under.
func (o Options) Model() LatencyModel {
	return LatencyModel{
		OpLatencySeconds:       o.OpLatency.Seconds(),
		RouteGraceSeconds:      o.RouteGrace.Seconds(),
		BootDelaySeconds:       o.BootDelay.Seconds(),
		ShutdownTimeoutSeconds: shutdownTimeout.Seconds(),
		ProbeIntervalSeconds:   1,
		ProbeTimeoutSeconds:    0.8,
		ProbeFailures:          3,
		DrainGraceSeconds:      o.DrainGrace.Seconds(),
		APIFaultRate:           apiFaultRate,
	}
}

const shutdownTimeout = 90 * time.Second

// Run starts the simulated VPC, runs the scenarios in order and returns the
// report. The error is for a lab that could not start; a scenario that fails
// is in the report.
func Run(ctx context.Context, opts Options) (Report, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if len(opts.Scenarios) == 0 {
		opts.Scenarios = ScenarioNames()
	}
	for _, n := range opts.Scenarios {
		if _, ok := scenarioByName(n); !ok {
			return Report{}, fmt.Errorf("scenario %q: unknown (known: %v)", n, ScenarioNames())
		}
	}
	report := Report{LatencyModel: opts.Model()}
	e, err := start(ctx, opts)
	if err != nil {
		return report, err
	}
	defer e.close()
	for _, name := range opts.Scenarios {
		if ctx.Err() != nil {
			break
		}
		sc, _ := scenarioByName(name)
		e.printf("== scenario %s", name)
		res := e.runScenario(ctx, sc)
		e.printf("== scenario %s: %s", name, okNo(res.OK))
		report.Scenarios = append(report.Scenarios, res)
	}
	e.printf("== shutting the group down")
	if err := e.settle(ctx, 0); err != nil {
		e.printf("shutdown: %v", err)
	}
	return report, ctx.Err()
}

func start(ctx context.Context, opts Options) (_ *env, err error) {
	ctx, cancel := context.WithCancel(ctx)
	e := &env{opts: opts, topo: opts.Topology, cancel: cancel, log: opts.Log,
		group: gce.GroupRef{Project: Project, Name: GroupName, Zone: Zone}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	endpoint := "http://" + net.JoinHostPort(MgmtIP, strconv.Itoa(apiPort)) + "/"
	ln, err := net.Listen("tcp4", net.JoinHostPort(MgmtIP, strconv.Itoa(apiPort)))
	if err != nil {
		return nil, fmt.Errorf("fake GCE on %s (the lab must run in its mgmt namespace %s): %w", MgmtIP, e.topo.Mgmt(), err)
	}
	e.fwd = NewForwarders(e.topo, opts.Exe, endpoint, opts.LogDir, opts.Log.Named("forwarders"))
	e.fake = gcefake.New(gcefake.Options{
		OpLatency:       gcefake.Fixed(opts.OpLatency),
		RouteGrace:      opts.RouteGrace,
		BootDelay:       opts.BootDelay,
		ShutdownTimeout: shutdownTimeout,
		MetadataBind:    MgmtIP,
		Lifecycle:       e.fwd,
		Log:             opts.Log.Named("gcefake"),
	})
	e.http = &http.Server{Handler: e.fake, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.http.Serve(ln) }()

	e.routes = fakeRoutes{fake: e.fake, prefix: RoutePrefix}
	if e.fabric, err = NewFabric(e.topo, e.routes, opts.Log.Named("fabric")); err != nil {
		return nil, err
	}
	go func() { _ = e.fabric.Run(ctx) }()

	if e.api, err = gce.NewClients(ctx, gce.ClientOptions{Endpoint: endpoint, Log: opts.Log.Named("gce")}); err != nil {
		return nil, err
	}
	err = e.fake.CreateGroup(gcefake.GroupSpec{
		Project: Project, Name: GroupName, Zone: Zone, TargetSize: 0,
		NICs:     []gcefake.NICSpec{{Network: NetworkA, Subnet: Nic0Subnet}, {Network: NetworkB, Subnet: Nic1Subnet}},
		Metadata: map[string]string{"vpclink-config": agentConfig(RoutePrefix, opts.DrainGrace)},
	})
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", GroupName, err)
	}
	recConfig := filepath.Join(opts.LogDir, "reconciler.yaml")
	if err := os.WriteFile(recConfig, []byte(reconcilerConfig(Project, RoutePrefix, GroupName, Zone, bootGrace)), 0o644); err != nil {
		return nil, fmt.Errorf("reconciler config: %w", err)
	}
	e.rec = &reconcilerProc{topo: e.topo, exe: opts.Exe, config: recConfig, endpoint: endpoint, logDir: opts.LogDir, log: opts.Log.Named("reconciler")}
	if err := e.rec.start(); err != nil {
		return nil, err
	}
	e.printf("lab up: fake GCE at %s, logs in %s", endpoint, opts.LogDir)
	return e, nil
}

// close stops everything start started, in reverse order.
func (e *env) close() {
	if e.rec != nil {
		e.rec.kill(syscall.SIGKILL)
	}
	if e.fwd != nil {
		e.fwd.StopAll()
	}
	if e.fake != nil {
		e.fake.Close()
	}
	if e.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = e.http.Shutdown(ctx)
		cancel()
	}
	if e.api != nil {
		_ = e.api.Close()
	}
	e.cancel()
	if e.fabric != nil {
		e.fabric.Close()
	}
}

// errTimeout marks a wait that ran out of time.
var errTimeout = errors.New("timed out")

// waitUntil polls cond every 100 ms until it holds, ctx ends or d passes.
func waitUntil(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %w after %s", what, errTimeout, d)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
