package main

import (
	"context"
	"io"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/rollout"
)

func init() {
	register(command{
		name:    "rollout",
		summary: "replace the group's members not on its current template, surge first: create one, wait until it routes and is ready, drain and delete an old one; resumable",
		run:     runRollout,
	})
}

func runRollout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o opFlags
	var region, probePath string
	var probePort int
	var timeout, probeTimeout time.Duration
	var dryRun bool
	fs := newFlagSet("rollout", "GROUP [--zone Z | --region R] [--project P] [--grace D] [--dry-run]", stderr)
	o.register(fs)
	fs.StringVar(&region, "region", "", "region of a regional group (instead of --zone)")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "per forwarder: how long to wait for its replacement to route and be ready")
	fs.IntVar(&probePort, "probe-port", 9780, "agent health port on nic0; 0 skips the readiness check")
	fs.StringVar(&probePath, "probe-path", "/readyz", "agent readiness path")
	fs.DurationVar(&probeTimeout, "probe-timeout", 800*time.Millisecond, "timeout of one readiness check")
	fs.BoolVar(&dryRun, "dry-run", false, "list the members the rollout would replace, change nothing")
	pos, err := parseWithArgs(fs, args)
	if err != nil {
		return err
	}
	if region != "" && !flagSet(fs, "zone") {
		o.zone = "" // the environment's default zone does not apply to a regional group
	}
	switch {
	case len(pos) != 1:
		return usagef("want exactly one GROUP, got %d arguments", len(pos))
	case o.project == "":
		return usagef("--project: required (or set CLOUDSDK_CORE_PROJECT)")
	case (o.zone == "") == (region == ""):
		return usagef("--zone %q, --region %q: exactly one is required", o.zone, region)
	case timeout <= 0:
		return usagef("--timeout %s: must be positive", timeout)
	case probePort < 0 || probePort > 65535:
		return usagef("--probe-port %d: not a port", probePort)
	}
	ops, closeFn, err := o.ops(ctx, stdout)
	if err != nil {
		return err
	}
	defer closeFn()
	g := gce.GroupRef{Project: o.project, Name: pos[0], Zone: o.zone, Region: region}
	if dryRun {
		p, _, err := ops.PlanRollout(ctx, g)
		if err != nil {
			return err
		}
		p.Print(stdout, g)
		return nil
	}
	if probePort > 0 {
		ops.Ready = rollout.HTTPReady(probePort, probePath, probeTimeout, nil)
	}
	return ops.Rollout(ctx, g, o.grace, timeout)
}
