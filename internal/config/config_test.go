package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The DESIGN.md examples, copied verbatim; both must load and validate.
var (
	agentExample      = filepath.Join("..", "..", "test", "testdata", "agent-config.yaml")
	reconcilerExample = filepath.Join("..", "..", "test", "testdata", "reconciler-config.yaml")
	exampleNICs       = []string{"projects/123/networks/vpc-a", "projects/123/networks/vpc-b"}
)

func TestExamplesAreStillInDesign(t *testing.T) {
	design, err := os.ReadFile("/work/shared/DESIGN.md")
	if err != nil {
		t.Skip("DESIGN.md not available here: ", err)
	}
	for _, path := range []string{agentExample, reconcilerExample} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(design), string(data)) {
			t.Errorf("%s is no longer a verbatim copy of the example in DESIGN.md", path)
		}
	}
}

func TestAgentExampleRoundTrip(t *testing.T) {
	a, err := LoadAgentFile(agentExample)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(exampleNICs); err != nil {
		t.Fatalf("example does not validate:\n%v", err)
	}
	prio := uint32(900)
	want := Agent{
		Routes: []RouteSpec{{
			Network: "vpc-a", DestRanges: []string{"10.19.16.0/20"}, Priority: &prio,
			Tags: []string{}, NextHop: NextHopInstance,
		}},
		PolicyRouting: PolicyRouting{NIC: 1, Table: 1, TableName: "rt1", Via: []string{"10.19.16.0/20"}},
		Health:        AgentHealth{Port: 9780},
		Drain:         Drain{Grace: dur(10 * time.Second)},
		RoutePrefix:   "vpclink",
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v", a, want)
	}
	out, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadAgent(out)
	if err != nil {
		t.Fatalf("reloading marshalled config: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, a) {
		t.Fatalf("round trip changed the config:\n%s\n%+v", out, again)
	}
}

func TestReconcilerExampleRoundTrip(t *testing.T) {
	r, err := LoadReconcilerFile(reconcilerExample)
	if err != nil {
		t.Fatal(err)
	}
	half := 0.5
	want := Reconciler{
		Project: "my-project", RoutePrefix: "vpclink",
		Groups: []Group{{Name: "fwd", Zone: "us-central1-a"}},
		Allow: []Allow{{Network: "vpc-a", Project: "my-project", DestRanges: []string{"10.19.0.0/16"},
			Priority: PriorityRange{Min: 100, Max: 1000}}},
		Probe: Probe{Port: 9780, Path: "/readyz", Interval: dur(time.Second), Timeout: dur(800 * time.Millisecond),
			Failures: 3, Successes: 2},
		MinHealthyFraction: &half,
		BootGrace:          dur(120 * time.Second),
		Listen:             ":9781",
		Interval:           dur(10 * time.Second),
		Restore:            Restore{MaxPerForwarder: 64, MaxPerPass: 256},
		Healthz:            Healthz{FailAfter: dur(5 * time.Minute)},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v", r, want)
	}
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadReconciler(out)
	if err != nil {
		t.Fatalf("reloading marshalled config: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, r) {
		t.Fatalf("round trip changed the config:\n%s\n%+v", out, again)
	}
}

func TestDefaults(t *testing.T) {
	a, err := LoadAgent([]byte("routes: [{network: vpc-a, destRanges: [10.1.0.0/16]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(nil); err != nil {
		t.Fatal(err)
	}
	got := []any{*a.Routes[0].Priority, a.Routes[0].NextHop, a.PolicyRouting, a.Health.Port, a.Drain.Grace.Duration, a.RoutePrefix}
	want := []any{uint32(900), "instance", PolicyRouting{NIC: 1, Table: 1, TableName: "rt1"}, 9780, 10 * time.Second, "vpclink"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("agent defaults %v, want %v", got, want)
	}

	r, err := LoadReconciler([]byte(`
project: p
groups: [{name: fwd, region: us-central1}]
allow: [{network: vpc-a, destRanges: [10.0.0.0/8]}]
minHealthyFraction: 0
`))
	if err != nil {
		t.Fatal(err)
	}
	wantProbe := Probe{Port: 9780, Path: "/readyz", Interval: dur(time.Second), Timeout: dur(800 * time.Millisecond), Failures: 3, Successes: 2}
	if r.Probe != wantProbe {
		t.Errorf("probe defaults %+v, want %+v", r.Probe, wantProbe)
	}
	if *r.MinHealthyFraction != 0 {
		t.Errorf("explicit minHealthyFraction 0 became %v", *r.MinHealthyFraction)
	}
	if r.Allow[0].Project != "p" || r.Allow[0].Priority != (PriorityRange{900, 900}) || r.Allow[0].PrefixLength != nil {
		t.Errorf("allow defaults %+v", r.Allow[0])
	}
	if r.BootGrace.Duration != 120*time.Second || r.Listen != ":9781" || r.Interval.Duration != 10*time.Second || r.RoutePrefix != "vpclink" {
		t.Errorf("reconciler defaults %+v", r)
	}
	r2, err := LoadReconciler([]byte("project: p\ngroups: [{name: g, zone: z}]\nallow: [{network: net-a, destRanges: [10.0.0.0/8]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if *r2.MinHealthyFraction != 0.5 {
		t.Errorf("default minHealthyFraction %v, want 0.5", *r2.MinHealthyFraction)
	}
}

func TestUnknownKeyIsRejectedByName(t *testing.T) {
	_, err := LoadAgent([]byte("routes:\n  - network: vpc-a\n    destRange: [10.0.0.0/8]\nhealth: {port: 1, path: /x}\n"))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"health.path: unknown key", "routes[0].destRange: unknown key (did you mean destRanges?)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
	if _, err := LoadReconciler([]byte("project: p\nProject: q\n")); err == nil || !strings.Contains(err.Error(), "Project: unknown key (did you mean project?)") {
		t.Errorf("case-insensitive key accepted or not named: %v", err)
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	_, err := LoadReconciler([]byte(`
project: p
groups: [{name: fwd, zone: z}]
allow: [{network: vpc-a, destRanges: [10.0.0.1/8]}]
probe: {interval: 1s, timeout: 2s, failures: -1}
`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	lines := strings.Split(strings.TrimPrefix(err.Error(), "reconciler config: "), "\n")
	want := []string{
		`allow[0].destRanges[0]: "10.0.0.1/8": not a network address (host bits set): the network is 10.0.0.0/8`,
		`probe.timeout: 2s: not shorter than probe.interval 1s: a probe must end before the next one starts`,
		`probe.failures: -1: must be 1 or more`,
	}
	if !reflect.DeepEqual(lines, want) || len(ve.Problems) != 3 {
		t.Fatalf("got %d lines:\n%s\nwant:\n%s", len(lines), strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestFieldErrorFormat(t *testing.T) {
	e := FieldError{Field: "routes[0].destRanges[1]", Value: "10.0.0.0/33", Problem: "not a CIDR"}
	if got := e.Error(); got != `routes[0].destRanges[1]: "10.0.0.0/33": not a CIDR` {
		t.Errorf("got %s", got)
	}
}

func TestRouteSpecProjectOr(t *testing.T) {
	if got := (RouteSpec{}).ProjectOr("inst"); got != "inst" {
		t.Errorf("empty project: got %q", got)
	}
	if got := (RouteSpec{Project: "host"}).ProjectOr("inst"); got != "host" {
		t.Errorf("set project: got %q", got)
	}
}
