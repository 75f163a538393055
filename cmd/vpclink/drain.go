package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/naming"
	"github.com/vpclink/vpclink/internal/rollout"
)

func init() {
	register(command{
		name:    "drain",
		summary: "mark a forwarder drained (metadata vpclink-drain), withdraw its routes, wait until GCE reports them deleted plus a grace",
		run:     runDrain,
	})
}

// opFlags are the flags drain and rollout share.
type opFlags struct {
	project     string
	zone        string
	routePrefix string
	routeProj   string
	grace       time.Duration
	who         string
}

func (o *opFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.project, "project", os.Getenv("CLOUDSDK_CORE_PROJECT"), "project of the instance or group (default $CLOUDSDK_CORE_PROJECT)")
	fs.StringVar(&o.zone, "zone", os.Getenv("CLOUDSDK_COMPUTE_ZONE"), "zone of the instance or zonal group (default $CLOUDSDK_COMPUTE_ZONE)")
	fs.StringVar(&o.routePrefix, "route-prefix", "vpclink", "prefix of the routes vpclink owns (routePrefix in the config)")
	fs.StringVar(&o.routeProj, "route-project", "", "project the routes live in, when not the instance's (Shared VPC host); comma-separated")
	fs.DurationVar(&o.grace, "grace", 10*time.Second, "time to keep forwarding after the routes are gone (drain.grace)")
	fs.StringVar(&o.who, "by", rollout.Operator(), "who drains, written into the drain mark")
}

func (o *opFlags) ops(ctx context.Context, stdout io.Writer) (*rollout.Ops, func(), error) {
	if err := naming.ValidatePrefix(o.routePrefix); err != nil {
		return nil, nil, usagef("--route-prefix: %v", err)
	}
	if o.grace < 0 {
		return nil, nil, usagef("--grace %s: must not be negative", o.grace)
	}
	clients, err := gce.NewClients(ctx, gce.ClientOptions{})
	if err != nil {
		return nil, nil, err
	}
	ops := &rollout.Ops{
		Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups,
		RoutePrefix: o.routePrefix, Out: stdout, Who: o.who,
	}
	if o.routeProj != "" {
		ops.RouteProjects = strings.Split(o.routeProj, ",")
	}
	return ops, func() { _ = clients.Close() }, nil
}

// parseWithArgs parses flags placed before or after the positional
// arguments (`drain NAME --zone Z` reads like gcloud) and returns the
// positional ones.
func parseWithArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func runDrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o opFlags
	fs := newFlagSet("drain", "INSTANCE [--zone Z] [--project P] [--grace D]", stderr)
	o.register(fs)
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("want exactly one INSTANCE, got %d arguments", len(pos))
	case o.project == "":
		return usagef("--project: required (or set CLOUDSDK_CORE_PROJECT)")
	case o.zone == "":
		return usagef("--zone: required (or set CLOUDSDK_COMPUTE_ZONE)")
	}
	ops, closeFn, err := o.ops(ctx, stdout)
	if err != nil {
		return err
	}
	defer closeFn()
	n, err := ops.Drain(ctx, o.project, o.zone, pos[0], o.grace)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "drained %s: %d routes withdrawn; it stays drained until `vpclink undrain %s`\n", pos[0], n, pos[0])
	return nil
}

// flagSet reports whether flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
