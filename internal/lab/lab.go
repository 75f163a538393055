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
	"sync"
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
)

// The reconciler's probes, as DESIGN.md's timing budget states them; the
// lab's reconciler config uses exactly these.
const (
	probeInterval = time.Second
	probeTimeout  = 800 * time.Millisecond
	probeFailures = 3
	// detection is the configured time from a forwarder's death to its
	// verdict: the first term of every floor.
	detection = probeInterval * probeFailures
)

// Options configures a lab run. ProfileOptions fills in a profile's model;
// flags override single fields.
type Options struct {
	Topology   Topology // already built (see Build); the lab runs in its mgmt namespace
	Exe        string   // vpclink binary for agents and the reconciler
	Scenarios  []string // names; empty: all, in the canonical order
	Designs    []string // designs to run (ExpandDesigns), in this order
	Forwarders int      // group size for rolling-update and the panic scenarios (default 3)
	Profile    string   // the profile the model below came from, for the report

	// OpLatencies is a sweep: every scenario runs at each operation latency.
	OpLatencies []gcefake.Latency
	Propagation gcefake.Latency
	RouteGrace  time.Duration
	BootDelay   time.Duration
	DrainGrace  time.Duration // the agents' drain.grace and the rollout's
	BootGrace   time.Duration // the reconciler's bootGrace
	AutoHealing bool          // the fake's MIG heals itself; otherwise the lab recreates panicked members

	LogDir   string    // agent, reconciler and lab logs
	Pictures string    // path prefix of the timeline pictures (<prefix>-<scenario>-<latency>.svg); empty: none
	Progress io.Writer // one line per step, for people
	Log      *zap.Logger
}

// DefaultOptions are the default profile's options.
func DefaultOptions() Options {
	o, err := ProfileOptions(DefaultProfile)
	if err != nil {
		panic(err) // the default profile is in Profiles
	}
	return o
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
	routes *fakeRoutes
	cancel context.CancelFunc
	// design is the design in force, spec its group's, stopControl
	// ends its control part (useDesign).
	design      design
	spec        groupSpec
	stopControl func()
	log         *zap.Logger
	// carryingSince is when each incarnation first carried traffic by
	// a design's own account (noteCarrying).
	carryingMu    sync.Mutex
	carryingSince map[string]time.Time
	// pictures are the timelines drawn so far, by file: the designs of one
	// scenario stack in one picture.
	pictures map[string][]string
	// opLatency is the operation latency in force (one point of a sweep).
	opLatency gcefake.Latency
}

func (e *env) printf(format string, args ...any) {
	fmt.Fprintf(e.opts.Progress, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
}

// Model returns the latency model a run with opts is measured under.
func (o Options) Model() LatencyModel {
	m := LatencyModel{
		Profile:                o.Profile,
		Propagation:            o.Propagation.String(),
		RouteGraceSeconds:      o.RouteGrace.Seconds(),
		BootDelaySeconds:       o.BootDelay.Seconds(),
		ShutdownTimeoutSeconds: shutdownTimeout.Seconds(),
		BootGraceSeconds:       o.BootGrace.Seconds(),
		ProbeIntervalSeconds:   probeInterval.Seconds(),
		ProbeTimeoutSeconds:    probeTimeout.Seconds(),
		ProbeFailures:          probeFailures,
		DrainGraceSeconds:      o.DrainGrace.Seconds(),
		APIFaultRate:           apiFaultRate,
		WritesPerMinute:        writesPerMinute,
		OverheadLimitSeconds:   overheadLimit.Seconds(),
	}
	for _, l := range o.OpLatencies {
		m.OpLatency = append(m.OpLatency, l.String())
	}
	if o.AutoHealing {
		m.AutoHealing = autoHealingModel()
	}
	return m
}

const shutdownTimeout = 90 * time.Second

// Run starts the simulated VPC, runs the scenarios at every operation
// latency of the sweep and returns the report. The error is for a lab that
// could not start; a scenario that fails is in the report.
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
	if len(opts.Designs) == 0 {
		opts.Designs = []string{DesignVPCLink}
	}
	if len(opts.OpLatencies) == 0 {
		return Report{}, errors.New("no operation latency to run at")
	}
	for _, n := range opts.Scenarios {
		if _, ok := scenarioByName(n); !ok {
			return Report{}, fmt.Errorf("scenario %q: unknown (known: %v)", n, ScenarioNames())
		}
	}
	designs, err := ExpandDesigns(opts.Designs)
	if err != nil {
		return Report{}, err
	}
	opts.Designs = designs
	report := Report{LatencyModel: opts.Model()}
	if len(opts.Designs) > 1 || opts.Designs[0] != DesignVPCLink {
		report.LatencyModel.Designs = map[string]DesignModel{}
		for _, name := range opts.Designs {
			d, _ := newDesign(name)
			var m DesignModel
			if h := d.group(opts).autoHealing; h != nil {
				m.AutoHealing = &AutoHealingModel{Port: h.Port, Path: h.Path,
					IntervalSeconds: h.Interval.Seconds(), TimeoutSeconds: h.Timeout.Seconds(),
					HealthyThreshold: h.HealthyThreshold, UnhealthyThreshold: h.UnhealthyThreshold,
					InitialDelaySeconds: h.InitialDelay.Seconds()}
			}
			report.LatencyModel.Designs[name] = m
		}
	}
	e, err := start(ctx, opts)
	if err != nil {
		return report, err
	}
	defer e.close()
	total := 0
	for _, name := range opts.Designs {
		d, _ := newDesign(name)
		for _, sc := range opts.Scenarios {
			if d.supports(sc) {
				total += len(opts.OpLatencies)
			}
		}
	}
	began := time.Now()
	for _, lat := range opts.OpLatencies {
		e.opLatency = lat
		e.fake.SetOpLatency(gcefake.AllMethods, lat)
		for _, name := range opts.Designs {
			d, _ := newDesign(name)
			if ctx.Err() != nil {
				break
			}
			if err := e.useDesign(ctx, d); err != nil {
				return report, fmt.Errorf("design %s: %w", name, err)
			}
			for _, scName := range opts.Scenarios {
				if ctx.Err() != nil {
					break
				}
				n := len(report.Scenarios) + 1
				if !d.supports(scName) {
					e.printf("== scenario %s: design %s has nothing to show there (no such part), skipped", scName, name)
					continue
				}
				sc, _ := scenarioByName(scName)
				e.printf("== [%d/%d] scenario %s, design %s, op latency %s (lab running %s)", n, total, scName, name, lat, time.Since(began).Round(time.Second))
				res := e.runScenario(ctx, sc)
				res.Design, res.OpLatency = name, lat.String()
				res.Informational = name != DesignVPCLink
				e.printf("== [%d/%d] scenario %s, design %s at %s: %s", n, total, scName, name, lat, okNo(res.OK))
				report.Scenarios = append(report.Scenarios, res)
			}
		}
	}
	report.Comparison = Compare(report.Scenarios)
	e.printf("== shutting the group down (lab ran %s)", time.Since(began).Round(time.Second))
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
		OpLatency:       opts.OpLatencies[0],
		Propagation:     opts.Propagation,
		RouteGrace:      opts.RouteGrace,
		BootDelay:       opts.BootDelay,
		ShutdownTimeout: shutdownTimeout,
		MetadataBind:    MgmtIP,
		Lifecycle:       e.fwd,
		Log:             opts.Log.Named("gcefake"),
	})
	e.http = &http.Server{Handler: e.fake, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.http.Serve(ln) }()

	e.routes = &fakeRoutes{fake: e.fake}
	if e.fabric, err = NewFabric(e.topo, e.routes, opts.Log.Named("fabric")); err != nil {
		return nil, err
	}
	go func() { _ = e.fabric.Run(ctx) }()

	if e.api, err = gce.NewClients(ctx, gce.ClientOptions{Endpoint: endpoint, Log: opts.Log.Named("gce")}); err != nil {
		return nil, err
	}
	recConfig := filepath.Join(opts.LogDir, "reconciler.yaml")
	if err := os.WriteFile(recConfig, []byte(reconcilerConfig(Project, RoutePrefix, GroupName, Zone, opts.BootGrace)), 0o644); err != nil {
		return nil, fmt.Errorf("reconciler config: %w", err)
	}
	// Started by vpclink's design (design_vpclink.go), not by the lab.
	e.rec = &reconcilerProc{topo: e.topo, exe: opts.Exe, config: recConfig, endpoint: endpoint, logDir: opts.LogDir, log: opts.Log.Named("reconciler")}
	e.printf("lab up: fake GCE at %s, logs in %s", endpoint, opts.LogDir)
	e.printf("model: %s", opts.Model().Summary())
	e.printf("gcloud against this lab, from a shell in its namespace (ip netns exec %s bash):", e.topo.Mgmt())
	for _, l := range gcefake.GcloudConfigLines(endpoint) {
		e.printf("  %s", l)
	}
	e.printf("  gcloud compute routes list --project %s", Project)
	return e, nil
}

// close stops everything start started, in reverse order.
func (e *env) close() {
	if e.stopControl != nil {
		e.stopControl()
	}
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
