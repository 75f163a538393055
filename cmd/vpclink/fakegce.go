package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/logging"
)

func init() {
	register(command{
		name:    "fakegce",
		summary: "serve the fake Compute and metadata APIs on loopback (tests, lab)",
		run:     runFakeGCE,
	})
}

// runFakeGCE serves a gcefake.Server until ctx ends (SIGINT). It prints the
// address it listens on, alone on one line of stdout, so that a script can
// read it when --listen has port 0, and then set
// VPCLINK_COMPUTE_ENDPOINT=http://<that address>/. The lines after it are
// the gcloud configuration commands that point gcloud at the fake.
func runFakeGCE(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fakegce", "--listen ADDR [--op-latency D|MIN..MAX] [--propagation D|MIN..MAX] [--metadata-bind IP]", stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address for the Compute API and the /_fake/ control API")
	opLatency := gcefake.Fixed(2 * time.Second)
	fs.Var(&opLatency, "op-latency", "time from an operation's creation to DONE: D or MIN..MAX, uniform (0: at once)")
	var propagation gcefake.Latency
	fs.Var(&propagation, "propagation", "time from a route operation's DONE to the data plane using (or no longer using) the route: D or MIN..MAX")
	routeGrace := fs.Duration("route-grace", 0, "time a route stays effective after its next hop leaves RUNNING")
	bootDelay := fs.Duration("boot-delay", 0, "time from a MIG instance's creation to RUNNING")
	metadataBind := fs.String("metadata-bind", "127.0.0.1", "IP on which per-instance metadata servers listen")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	for name, d := range map[string]time.Duration{"route-grace": *routeGrace, "boot-delay": *bootDelay} {
		if d < 0 {
			return usagef("--%s: must not be negative, got %s", name, d)
		}
	}
	if net.ParseIP(*metadataBind) == nil {
		return usagef("--metadata-bind: not an IP address: %q", *metadataBind)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return usagef("--listen %q: %v", *listen, err)
	}
	log := logging.New("fakegce")
	fake := gcefake.New(gcefake.Options{
		OpLatency:    opLatency,
		Propagation:  propagation,
		RouteGrace:   *routeGrace,
		BootDelay:    *bootDelay,
		MetadataBind: *metadataBind,
		Log:          log,
	})
	defer fake.Close()
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	// One write, so that a reader taking only the first line never blocks it.
	fmt.Fprintln(stdout, strings.Join(append([]string{ln.Addr().String()}, gcefake.GcloudConfigLines(ln.Addr().String())...), "\n"))
	log.Info("serving", zap.String("op", "serve"), zap.String("endpoint", "http://"+ln.Addr().String()+"/"))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("fakegce: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	// Closing the fake first ends /_fake/watch streams, which would
	// otherwise keep Shutdown waiting.
	fake.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("fakegce: shutdown: %w", err)
	}
	_ = srv.Close()
	return nil
}
