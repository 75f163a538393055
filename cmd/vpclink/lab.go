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

// labFlags are the lab's flags; the outer process passes them on verbatim
// to the inner one.
type labFlags struct {
	scenarios   scenarioList
	jsonPath    string
	forwarders  int
	opLatency   time.Duration
	routeGrace  time.Duration
	bootDelay   time.Duration
	drainGrace  time.Duration
	cleanup     bool
	logDir      string
	inNamespace string
}

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	def := lab.DefaultOptions()
	var f labFlags
	fs := newFlagSet("lab", "[--scenario NAME]... [--json FILE] [--forwarders N] [--op-latency D] [--cleanup]", stderr)
	fs.Var(&f.scenarios, "scenario", "scenario to run, repeatable or comma-separated (default: all): "+strings.Join(lab.ScenarioNames(), ", "))
	fs.StringVar(&f.jsonPath, "json", "", "also write the report as JSON to `FILE`")
	fs.IntVar(&f.forwarders, "forwarders", def.Forwarders, "group size for rolling-update and the panic scenarios")
	fs.DurationVar(&f.opLatency, "op-latency", def.OpLatency, "fake GCE: time from an operation's creation to DONE")
	fs.DurationVar(&f.routeGrace, "route-grace", def.RouteGrace, "fake GCE: how long a route stays in effect after its next hop stops")
	fs.DurationVar(&f.bootDelay, "boot-delay", def.BootDelay, "fake GCE: instance creation to RUNNING")
	fs.DurationVar(&f.drainGrace, "drain-grace", def.DrainGrace, "agents' and rollout's grace after their routes are deleted")
	fs.BoolVar(&f.cleanup, "cleanup", false, "only remove namespaces and processes left by lab runs that are no longer running, then exit")
	fs.StringVar(&f.logDir, "log-dir", "", "directory for agent, reconciler and lab logs (default: a new temporary directory)")
	fs.StringVar(&f.inNamespace, "in-namespace", "", "internal: run the scenarios inside the already built lab with this namespace prefix")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	for _, n := range f.scenarios {
		if !slices.Contains(lab.ScenarioNames(), n) {
			return usagef("--scenario %q: unknown scenario (known: %s)", n, strings.Join(lab.ScenarioNames(), ", "))
		}
	}
	if f.forwarders < 1 {
		return usagef("--forwarders %d: at least 1", f.forwarders)
	}
	for name, d := range map[string]time.Duration{"--op-latency": f.opLatency, "--route-grace": f.routeGrace, "--boot-delay": f.bootDelay, "--drain-grace": f.drainGrace} {
		if d < 0 {
			return usagef("%s %s: must not be negative", name, d)
		}
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
	opts := lab.Options{
		Topology:   lab.Topology{Prefix: f.inNamespace},
		Exe:        exe,
		Scenarios:  f.scenarios,
		Forwarders: f.forwarders,
		OpLatency:  f.opLatency,
		RouteGrace: f.routeGrace,
		BootDelay:  f.bootDelay,
		DrainGrace: f.drainGrace,
		LogDir:     f.logDir,
		Progress:   stdout,
		Log:        logging.NewTo(logFile, zapcore.InfoLevel).With(logging.Component("lab")),
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

var _ flag.Value = (*scenarioList)(nil)
