package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/vpclink/vpclink/internal/reconciler"
	"github.com/vpclink/vpclink/internal/routeplan"
)

func init() {
	register(command{
		name:    "status",
		summary: "table of the forwarders: instance, status, probe health, owned routes, age",
		run:     runStatus,
	})
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	plan, asJSON, err := dryRun(ctx, args, "status", stderr)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, reconciler.StatusDocument(reconciler.Report{Decision: plan}))
	}
	printStatus(stdout, plan, time.Now())
	return nil
}

func printStatus(w io.Writer, plan routeplan.Decision, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tINSTANCE\tID\tZONE\tSTATUS\tHEALTH\tROUTES\tAGE")
	for _, f := range plan.Forwarders {
		status := f.Status
		if status == "" {
			status = "-"
		}
		if f.Action != "" && f.Action != "NONE" {
			status += "/" + f.Action
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", f.Group, f.Name, f.ID.String(), f.Zone,
			status, f.Health, len(f.Routes), age(f.Created, now))
	}
	_ = tw.Flush()
	printVerdicts(w, plan)
}

// age renders how long ago t was the way kubectl does: 45s, 12m, 3h, 5d.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}
