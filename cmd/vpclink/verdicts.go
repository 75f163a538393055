package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/vpclink/vpclink/internal/routeplan"
)

// printVerdicts lists, for `plan` and `status`, who corroborated each
// suspect forwarder's verdict: the peers asked about it that saw no answer
// either, and those that saw it answer (README "Verdict model").
func printVerdicts(w io.Writer, plan routeplan.Decision) {
	header := false
	for _, f := range plan.Forwarders {
		j := f.Judgement
		if j == nil {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\ncorroboration (peers asked about suspect forwarders):")
			header = true
		}
		verdict := "not corroborated"
		if j.Down {
			verdict = "corroborated"
		}
		fmt.Fprintf(w, "  %s: %s; no answer: %s; answered: %s", f.Name, verdict, names(j.Agree), names(j.Disagree))
		if j.Stale > 0 {
			fmt.Fprintf(w, "; %d stale", j.Stale)
		}
		fmt.Fprintln(w)
	}
	if len(plan.Uncorroborated) > 0 {
		fmt.Fprintln(w, "\nprobe prunes held for lack of corroboration:")
		for _, h := range plan.Uncorroborated {
			fmt.Fprintf(w, "  %s/%s: %s\n", h.Group, h.Instance, h.Reason)
		}
	}
}

func names(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}
