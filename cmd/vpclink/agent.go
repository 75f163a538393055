package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/agent"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/dataplane"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/logging"
)

func init() {
	register(command{
		name:    "agent",
		summary: "run the forwarder agent: keep policy routing right, announce this forwarder's routes, withdraw them on stop",
		run:     runAgent,
	})
}

// configAttribute is the instance metadata attribute holding the agent's YAML.
const configAttribute = "vpclink-config"

// defaultStopTimeout is a little under TimeoutStopSec=90 in
// systemd/vpclink-agent.service, so the agent ends its drain itself
// before systemd sends SIGKILL.
const defaultStopTimeout = 80 * time.Second

type agentFlags struct {
	configPath   string
	nic1Name     string
	withdrawOnly bool
	listen       string
	stopTimeout  time.Duration
}

func runAgent(ctx context.Context, args []string, _, stderr io.Writer) error {
	var f agentFlags
	fs := newFlagSet("agent", "[--config FILE] [--nic1-name NAME] [--withdraw-only] [--listen ADDR] [--stop-timeout DURATION]", stderr)
	fs.StringVar(&f.configPath, "config", "", "agent config YAML `file` (default: the "+configAttribute+" metadata attribute)")
	fs.StringVar(&f.nic1Name, "nic1-name", "", "interface `name` of the policy-routing NIC (default: found by the MAC the metadata server gives)")
	fs.BoolVar(&f.withdrawOnly, "withdraw-only", false, "delete this instance's routes, wait until GCE reports them deleted, exit (no data plane)")
	fs.StringVar(&f.listen, "listen", "", "`address` for /healthz, /readyz, /status, /metrics (default: health.listen, else <nic0 address>:<health.port> and 127.0.0.1:<health.port>)")
	fs.DurationVar(&f.stopTimeout, "stop-timeout", defaultStopTimeout, "after the first SIGTERM, end the drain by this `duration` (keep under the unit's TimeoutStopSec)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if f.stopTimeout <= 0 {
		return usagef("--stop-timeout: %v: must be positive", f.stopTimeout)
	}
	log := logging.New("agent")
	defer func() { _ = log.Sync() }()

	// The first stop signal starts the drain, a second SIGTERM cuts the
	// grace short. main's context carries SIGINT (registered there, once);
	// this registers SIGTERM, which systemd sends.
	runCtx, requestStop := context.WithCancel(context.WithoutCancel(ctx))
	defer requestStop()
	hurry := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			log.Info("stop signal, draining", logging.Signal(sig.String()))
		case <-ctx.Done():
			log.Info("stop signal, draining", logging.Signal(os.Interrupt.String()))
		case <-runCtx.Done():
			return
		}
		requestStop()
		select {
		case sig := <-sigs:
			log.Info("second stop signal, cutting the grace short", logging.Signal(sig.String()))
			close(hurry)
		case <-runCtx.Done():
		}
	}()

	md := gce.NewMetadata("")
	id, err := identity(runCtx, md, log)
	if err != nil {
		return stoppedEarly(runCtx, log, err)
	}
	cfg, err := loadAgentConfig(runCtx, md, f.configPath)
	if err != nil {
		return stoppedEarly(runCtx, log, err)
	}
	group := instanceGroup(runCtx, md, log)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	clients, err := gce.NewClients(runCtx, gce.ClientOptions{Log: log, Registerer: reg})
	if err != nil {
		return err
	}
	defer func() { _ = clients.Close() }()

	opts := agent.Options{
		Identity: id, Group: group, Config: cfg, Version: version, Routes: clients.Routes,
		Registerer: reg, Gatherer: reg, Log: log, StopTimeout: f.stopTimeout, Hurry: hurry, Metadata: md,
	}
	if f.withdrawOnly {
		a, err := agent.New(opts)
		if err != nil {
			return usageError{err}
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.stopTimeout)
		defer cancel()
		return a.Withdraw(wctx)
	}

	nic0, nic1, err := policyNICs(cfg, id)
	if err != nil {
		return err
	}
	opts.Listen = agent.ListenAddresses(f.listen, cfg.Health, nic0)
	k, err := kernel.New(netns.None())
	if err != nil {
		return err
	}
	defer func() { _ = k.Close() }()
	keeper := dataplane.New(dataplane.Config{
		NIC0MAC: nic0.MAC, NIC1MAC: nic1.MAC, NIC1Name: f.nic1Name, NIC1Gateway: nic1.Gateway,
		Policy: cfg.PolicyRouting,
	}, k, reg, logging.New("dataplane"))
	opts.DataPlane = keeper
	a, err := agent.New(opts)
	if err != nil {
		return usageError{err}
	}
	return a.Run(runCtx)
}

// stoppedEarly maps an error caused by a stop request that came before
// anything was announced to a clean exit: there is nothing to withdraw.
func stoppedEarly(runCtx context.Context, log *zap.Logger, err error) error {
	var ue usageError
	if runCtx.Err() != nil && !errors.As(err, &ue) {
		log.Info("stopped before start, nothing announced", logging.Err(err))
		return nil
	}
	return err
}

// identity asks the metadata server who this VM is, retrying while it is
// not answering yet (early boot) until ctx ends.
func identity(ctx context.Context, md gce.Metadata, log *zap.Logger) (gce.Identity, error) {
	wait := 200 * time.Millisecond
	for {
		id, err := md.Identity(ctx)
		if err == nil {
			return id, nil
		}
		log.Warn("metadata server not answering, retrying", logging.Op("identity"), logging.RetryIn(wait), logging.Err(err))
		select {
		case <-ctx.Done():
			return gce.Identity{}, fmt.Errorf("instance identity: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// loadAgentConfig reads --config, or else the metadata attribute. Every
// error is a configuration error (exit 2) except an unreadable metadata
// server.
func loadAgentConfig(ctx context.Context, md gce.Metadata, path string) (config.Agent, error) {
	if path != "" {
		cfg, err := config.LoadAgentFile(path)
		if err != nil {
			return config.Agent{}, usageError{err}
		}
		return cfg, nil
	}
	text, found, err := md.Attribute(ctx, configAttribute)
	if err != nil {
		return config.Agent{}, fmt.Errorf("metadata attribute %s: %w", configAttribute, err)
	}
	if !found {
		return config.Agent{}, usagef("%s: the metadata attribute is not set and --config was not given", configAttribute)
	}
	cfg, err := config.LoadAgent([]byte(text))
	if err != nil {
		return config.Agent{}, usagef("metadata attribute %s: %w", configAttribute, err)
	}
	return cfg, nil
}

// instanceGroup names the MIG for the route marker; empty when unknown.
func instanceGroup(ctx context.Context, md gce.Metadata, log *zap.Logger) string {
	var vals [2]string
	for i, key := range []string{"instance-group", "created-by"} {
		v, _, err := md.Attribute(ctx, key)
		if err != nil {
			log.Warn("metadata attribute unreadable, group left empty", logging.Attribute(key), logging.Err(err))
		}
		vals[i] = v
	}
	return agent.GroupFromAttributes(vals[0], vals[1])
}

// policyNICs returns nic0 and the policy-routing NIC from the identity.
func policyNICs(cfg config.Agent, id gce.Identity) (nic0, nic1 gce.MetadataNIC, err error) {
	var found0, found1 bool
	for _, n := range id.NICs {
		if n.Index == 0 {
			nic0, found0 = n, true
		}
		if n.Index == cfg.PolicyRouting.NIC {
			nic1, found1 = n, true
		}
	}
	if !found0 {
		return nic0, nic1, errors.New("metadata lists no network-interfaces/0")
	}
	if !found1 {
		return nic0, nic1, usagef("policyRouting.nic: %d: instance %s has no such network interface (%d NICs)", cfg.PolicyRouting.NIC, id.Name, len(id.NICs))
	}
	return nic0, nic1, nil
}
