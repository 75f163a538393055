package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/reconciler"
)

func init() {
	register(command{
		name:    "reconciler",
		summary: "probe every forwarder, prune dead or replaced ones' routes, restore healthy ones'; serve /status, /metrics, /healthz",
		run:     runReconciler,
	})
}

// reconcilerConfigFlag registers --config and returns a loader for it:
// every problem with the file is a usage error (exit 2).
func reconcilerConfigFlag(fs *flag.FlagSet) func() (config.Reconciler, error) {
	path := fs.String("config", "", "reconciler config file (YAML), required")
	return func() (config.Reconciler, error) {
		if *path == "" {
			return config.Reconciler{}, usagef("--config: required")
		}
		cfg, err := config.LoadReconcilerFile(*path)
		if err != nil {
			return config.Reconciler{}, usageError{err}
		}
		return cfg, nil
	}
}

// markerWriter is the agent= value of the routes the reconciler restores.
func markerWriter() string { return "reconciler-" + version }

func runReconciler(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reconciler", "--config FILE", stderr)
	load := reconcilerConfigFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	log := logging.New("reconciler")
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Detection time is what the reconciler is for: retry transient API
	// errors often and briefly (100 ms .. 1 s, 8 tries) rather than the
	// client's default of up to 8 s between tries, so that a run of faults
	// delays a prune by a second, not by a pass given up.
	clients, err := gce.NewClients(ctx, gce.ClientOptions{
		Log: log, Registerer: reg,
		RetryMax: 8, RetryWaitMin: 100 * time.Millisecond, RetryWaitMax: time.Second,
	})
	if err != nil {
		return fmt.Errorf("compute clients: %w", err)
	}
	defer clients.Close()
	r, err := reconciler.New(reconciler.Options{
		Config: cfg, API: reconciler.API{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups},
		Registerer: reg, Log: log, Writer: markerWriter(),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: r.Handler(reg), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("reconciler started", logging.Op("start"), logging.Listen(ln.Addr().String()),
		logging.Project(cfg.Project), logging.Groups(cfg.GroupNames()), logging.Version(version))

	runErr := r.Run(ctx)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", cfg.Listen, err)
	}
	log.Info("reconciler stopped", logging.Op("stop"))
	return runErr
}
