package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/lab"
	"github.com/vpclink/vpclink/internal/logging"
)

func init() {
	register(command{
		name:    "lab",
		summary: "build a simulated VPC in network namespaces with the fake GCE, run the acceptance scenarios, print the report (root, Linux)",
		run:     runLab,
	})
}

// scenarioList is a repeatable, comma-separable --scenario flag.
type scenarioList []string

func (s *scenarioList) String() string { return strings.Join(*s, ",") }
func (s *scenarioList) Set(v string) error {
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			*s = append(*s, n)
		}
	}
	return nil
}

// latencyList is a repeatable --op-latency flag: a sweep.
type latencyList []gcefake.Latency

func (l *latencyList) String() string {
	var out []string
	for _, v := range *l {
		out = append(out, v.String())
	}
	return strings.Join(out, ",")
}

func (l *latencyList) Set(v string) error {
	lat, err := gcefake.ParseLatency(v)
	if err != nil {
		return err
	}
	*l = append(*l, lat)
	return nil
}

// labFlags are the lab's flags; the outer process passes them on verbatim
// to the inner one.
type labFlags struct {
	scenarios   scenarioList
	designs     scenarioList
	jsonPath    string
	profile     string
	forwarders  int
	opLatencies latencyList
	propagation gcefake.Latency
	routeGrace  time.Duration
	bootDelay   time.Duration
	drainGrace  time.Duration
	bootGrace   time.Duration
	autoHealing bool
	cleanup     bool
	logDir      string
	inNamespace string
	set         map[string]bool // flags given on the command line
}

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f labFlags
	fs := newFlagSet("lab", "[--profile gce|fast] [--scenario NAME]... [--op-latency D|MIN..MAX]... [--design NAME]... [--json FILE] [--cleanup]", stderr)
	fs.Var(&f.scenarios, "scenario", "scenario to run, repeatable or comma-separated (default: all): "+strings.Join(lab.ScenarioNames(), ", "))
	fs.Var(&f.designs, "design", "design to run, repeatable or comma-separated, or all: "+strings.Join(lab.KnownDesigns, ", ")+" (default vpclink)")
	fs.StringVar(&f.jsonPath, "json", "", "also write the report as JSON to `FILE`, and the timeline pictures next to it")
	fs.StringVar(&f.profile, "profile", lab.DefaultProfile, "latency and fault model: "+strings.Join(lab.ProfileNames(), ", ")+"; the flags below override single values")
	fs.IntVar(&f.forwarders, "forwarders", 3, "group size for rolling-update and the panic scenarios")
	fs.Var(&f.opLatencies, "op-latency", "fake GCE: operation call to DONE, `D or MIN..MAX` (uniform); repeatable: the scenarios run at each (default: the profile's)")
	fs.Var(&f.propagation, "propagation", "fake GCE: operation DONE to data plane, `D or MIN..MAX` (default: the profile's)")
	fs.DurationVar(&f.routeGrace, "route-grace", 0, "fake GCE: how long a route stays in effect after its next hop stops (default: the profile's)")
	fs.DurationVar(&f.bootDelay, "boot-delay", 0, "fake GCE: instance creation to RUNNING (default: the profile's)")
	fs.DurationVar(&f.drainGrace, "drain-grace", 0, "agents' and rollout's grace after their routes are deleted (default: the profile's)")
	fs.DurationVar(&f.bootGrace, "boot-grace", 0, "the reconciler's bootGrace (default: the profile's)")
	fs.BoolVar(&f.autoHealing, "autohealing", false, "the fake's group recreates members its health check fails; false: the lab recreates panicked members (default: the profile's)")
	fs.BoolVar(&f.cleanup, "cleanup", false, "only remove namespaces and processes left by lab runs that are no longer running, then exit")
	fs.StringVar(&f.logDir, "log-dir", "", "directory for agent, reconciler and lab logs (default: a new temporary directory)")
	fs.StringVar(&f.inNamespace, "in-namespace", "", "internal: run the scenarios inside the already built lab with this namespace prefix")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if _, err := f.options(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("the lab builds network namespaces: run it as root")
	}
	if f.cleanup {
		removed, err := lab.Cleanup()
		for _, n := range removed {
			fmt.Fprintf(stdout, "removed %s\n", n)
		}
		fmt.Fprintf(stdout, "cleanup: %d namespaces removed\n", len(removed))
		return err
	}
	if f.inNamespace != "" {
		return runLabInside(ctx, f, stdout, stderr)
	}
	return runLabOutside(ctx, f, args, stdout, stderr)
}

// options turns the flags into the lab's options: the profile's, with
// every flag given on the command line in place of its value. Errors are
// usage errors naming the flag.
func (f labFlags) options() (lab.Options, error) {
	o, err := lab.ProfileOptions(f.profile)
	if err != nil {
		return o, usagef("--profile %q: unknown (known: %s)", f.profile, strings.Join(lab.ProfileNames(), ", "))
	}
	for _, n := range f.scenarios {
		if !slices.Contains(lab.ScenarioNames(), n) {
			return o, usagef("--scenario %q: unknown scenario (known: %s)", n, strings.Join(lab.ScenarioNames(), ", "))
		}
	}
	o.Scenarios = f.scenarios
	if len(f.designs) > 0 {
		designs, err := lab.ExpandDesigns(f.designs)
		if err != nil {
			return o, usagef("--design: %v", err)
		}
		o.Designs = designs
	}
	if f.forwarders < 1 {
		return o, usagef("--forwarders %d: at least 1", f.forwarders)
	}
	o.Forwarders = f.forwarders
	if len(f.opLatencies) > 0 {
		o.OpLatencies = f.opLatencies
	}
	if f.set["propagation"] {
		o.Propagation = f.propagation
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		to   *time.Duration
	}{{"route-grace", f.routeGrace, &o.RouteGrace}, {"boot-delay", f.bootDelay, &o.BootDelay}, {"drain-grace", f.drainGrace, &o.DrainGrace}, {"boot-grace", f.bootGrace, &o.BootGrace}} {
		if !f.set[d.name] {
			continue
		}
		if d.v < 0 {
			return o, usagef("--%s %s: must not be negative", d.name, d.v)
		}
		*d.to = d.v
	}
	if f.set["autohealing"] {
		o.AutoHealing = f.autoHealing
	}
	return o, nil
}

// runLabOutside builds the topology, runs the lab inside its management
// namespace (where the fake GCE listens) as a child process, and tears
// everything down afterwards, whatever happened to the child.
func runLabOutside(ctx context.Context, f labFlags, args []string, stdout, stderr io.Writer) error {
	if removed, err := lab.Cleanup(); err != nil || len(removed) > 0 {
		fmt.Fprintf(stderr, "lab: removed %d namespaces of earlier runs that are gone (%v)\n", len(removed), err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab: own binary: %w", err)
	}
	if f.logDir == "" {
		if f.logDir, err = os.MkdirTemp("", "vpclink-lab-"); err != nil {
			return fmt.Errorf("lab: log directory: %w", err)
		}
	} else if err := os.MkdirAll(f.logDir, 0o755); err != nil {
		return fmt.Errorf("lab: log directory: %w", err)
	}
	topo := lab.Topology{Prefix: lab.RunPrefix(os.Getpid())}
	if err := topo.Build(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer func() {
		if err := topo.Teardown(); err != nil {
			fmt.Fprintf(stderr, "lab: teardown: %v\n", err)
		}
	}()
	inner := append([]string{"netns", "exec", topo.Mgmt(), exe, "lab", "--in-namespace", topo.Prefix, "--log-dir", f.logDir}, args...)
	if f.jsonPath != "" {
		abs, err := filepath.Abs(f.jsonPath)
		if err != nil {
			return usagef("--json %q: %v", f.jsonPath, err)
		}
		inner = append(inner, "--json", abs)
	}
	cmd := exec.Command("ip", inner...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// No Pdeathsig-free orphan: the inner lab dies with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: start in %s: %w", topo.Mgmt(), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Ctrl-C reached the inner lab too (same process group); give it
		// time to stop its agents, then make sure.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit):
		return fmt.Errorf("lab: failed (logs in %s)", f.logDir)
	default:
		return fmt.Errorf("lab: %w", err)
	}
}

// runLabInside runs the scenarios; the process is in the lab's management
// namespace.
func runLabInside(ctx context.Context, f labFlags, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("lab: own binary: %w", err)
	}
	logFile, err := os.Create(filepath.Join(f.logDir, "lab.log"))
	if err != nil {
		return fmt.Errorf("lab: log: %w", err)
	}
	defer logFile.Close()
	opts, err := f.options()
	if err != nil {
		return err
	}
	opts.Topology = lab.Topology{Prefix: f.inNamespace}
	opts.Exe = exe
	opts.LogDir = f.logDir
	opts.Progress = stdout
	opts.Log = logging.NewTo(logFile, zapcore.InfoLevel).With(logging.Component("lab"))
	// The timeline pictures go next to the JSON report, or into the logs.
	opts.Pictures = filepath.Join(f.logDir, "timeline")
	if f.jsonPath != "" {
		opts.Pictures = strings.TrimSuffix(f.jsonPath, ".json")
	}
	report, runErr := lab.Run(ctx, opts)
	fmt.Fprintln(stdout)
	if err := report.WriteTable(stdout); err != nil {
		return err
	}
	if f.jsonPath != "" {
		if err := report.WriteJSON(f.jsonPath); err != nil {
			return err
		}
	}
	if runErr != nil {
		return fmt.Errorf("lab: %w", runErr)
	}
	if !report.OK() {
		return errors.New("lab: some checks failed")
	}
	return nil
}

var (
	_ flag.Value = (*scenarioList)(nil)
	_ flag.Value = (*latencyList)(nil)
)
