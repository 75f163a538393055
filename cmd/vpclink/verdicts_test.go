package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vpclink/vpclink/internal/corroborate"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// plan and status name the peers behind a verdict, and the holds.
func TestPrintVerdictsNamesWitnesses(t *testing.T) {
	plan := routeplan.Decision{
		Forwarders: []routeplan.Forwarder{
			{Group: "fwd", Name: "fwd-a"},
			{Group: "fwd", Name: "fwd-b", Judgement: &corroborate.Judgement{Down: true, Agree: []string{"fwd-a", "fwd-c"}}},
			{Group: "fwd", Name: "fwd-c", Judgement: &corroborate.Judgement{Disagree: []string{"fwd-a"}}},
		},
		Uncorroborated: []routeplan.Held{{Group: "fwd", Instance: "fwd-c", Reason: "1 of 1 fresh peers saw fwd-c answer"}},
	}
	var b bytes.Buffer
	printVerdicts(&b, plan)
	for _, want := range []string{
		"fwd-b: corroborated; no answer: fwd-a, fwd-c; answered: -",
		"fwd-c: not corroborated; no answer: -; answered: fwd-a",
		"fwd/fwd-c: 1 of 1 fresh peers saw fwd-c answer",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "fwd-a:") {
		t.Errorf("fwd-a was never suspect, yet listed:\n%s", b.String())
	}
}
