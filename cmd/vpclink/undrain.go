package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

func init() {
	register(command{
		name:    "undrain",
		summary: "clear a forwarder's drain mark (metadata vpclink-drain) so that its agent announces its routes again",
		run:     runUndrain,
	})
}

func runUndrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o opFlags
	var wait time.Duration
	fs := newFlagSet("undrain", "INSTANCE [--zone Z] [--project P] [--wait D]", stderr)
	o.register(fs)
	fs.DurationVar(&wait, "wait", 0, "then wait up to this long until the forwarder's routes exist again (0: do not wait)")
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
	case wait < 0:
		return usagef("--wait %s: must not be negative", wait)
	}
	ops, closeFn, err := o.ops(ctx, stdout)
	if err != nil {
		return err
	}
	defer closeFn()
	changed, err := ops.Undrain(ctx, o.project, o.zone, pos[0], wait)
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintf(stdout, "undrained %s\n", pos[0])
	} else {
		fmt.Fprintf(stdout, "%s was not drained\n", pos[0])
	}
	return nil
}
