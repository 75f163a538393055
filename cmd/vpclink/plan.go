package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/reconciler"
	"github.com/vpclink/vpclink/internal/routeplan"
)

func init() {
	register(command{
		name:    "plan",
		summary: "show the actions the reconciler would take now, and why, without taking them",
		run:     runPlan,
	})
}

// dryRun reads the API and probes every forwarder until it has a verdict
// (at most max(failures, successes)+1 probe intervals), as a reconciler
// that just started would see them, and returns the plan. Nothing is
// changed.
func dryRun(ctx context.Context, args []string, name string, stderr io.Writer) (routeplan.Decision, bool, error) {
	fs := newFlagSet(name, "--config FILE [--json]", stderr)
	load := reconcilerConfigFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON (the reconciler's /status shape) instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return routeplan.Decision{}, false, err
	}
	if fs.NArg() > 0 {
		return routeplan.Decision{}, false, usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := load()
	if err != nil {
		return routeplan.Decision{}, false, err
	}
	log := logging.New(name)
	clients, err := gce.NewClients(ctx, gce.ClientOptions{Log: log})
	if err != nil {
		return routeplan.Decision{}, false, fmt.Errorf("compute clients: %w", err)
	}
	defer clients.Close()
	r, err := reconciler.New(reconciler.Options{
		Config: cfg, API: reconciler.API{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups},
		Log: log, Writer: markerWriter(),
	})
	if err != nil {
		return routeplan.Decision{}, false, err
	}
	plan, err := r.DryRun(ctx)
	return plan, *asJSON, err
}

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	plan, asJSON, err := dryRun(ctx, args, "plan", stderr)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, planDocument(plan))
	}
	printPlan(stdout, plan)
	return nil
}

// planDocument renders the plan as the actions of a pass not yet run.
func planDocument(plan routeplan.Decision) reconciler.StatusDoc {
	outcomes := make([]reconciler.Outcome, len(plan.Actions))
	for i, a := range plan.Actions {
		outcomes[i] = reconciler.Outcome{Action: a}
	}
	doc := reconciler.StatusDocument(reconciler.Report{Decision: plan, Outcomes: outcomes, Start: time.Now()})
	for i := range doc.LastPass.Actions {
		doc.LastPass.Actions[i].Result = "planned"
	}
	return doc
}

func printPlan(w io.Writer, plan routeplan.Decision) {
	if plan.FailStatic.Engaged {
		fmt.Fprintf(w, "FAIL STATIC (probe prunes held, not corroborated): %s\n\n", plan.FailStatic.Reason)
	}
	if len(plan.Actions) == 0 {
		fmt.Fprintln(w, "no actions: every owned route matches what the forwarders need")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "OP\tROUTE\tINSTANCE\tDEST\tEVIDENCE\tREASON")
		for _, a := range plan.Actions {
			reason := a.Reason
			if a.After != "" {
				reason += " (after " + a.After + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Op, a.Route.Name, a.Instance, a.Route.DestRange, a.Evidence, reason)
		}
		_ = tw.Flush()
	}
	if len(plan.Rejected) > 0 {
		fmt.Fprintln(w, "\nnot restored (outside what the reconciler may create, or over a restore cap):")
		for _, rj := range plan.Rejected {
			fmt.Fprintf(w, "  %s %s: %s\n", rj.Instance, rj.Route, rj.Reason)
		}
	}
	printVerdicts(w, plan)
	for _, g := range groupsOfOne(plan) {
		fmt.Fprintf(w, "\nnote: group %s has one forwarder: it is never pruned on probe evidence (no peer can corroborate), only on API evidence\n", g)
	}
}

// groupsOfOne lists the groups with exactly one forwarder.
func groupsOfOne(plan routeplan.Decision) []string {
	n := map[string]int{}
	var order []string
	for _, f := range plan.Forwarders {
		if n[f.Group] == 0 {
			order = append(order, f.Group)
		}
		n[f.Group]++
	}
	var out []string
	for _, g := range order {
		if n[g] == 1 {
			out = append(out, g)
		}
	}
	return out
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
