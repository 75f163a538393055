package config

import (
	"fmt"
	"os"
	"time"
)

// LoadAgent decodes an agent config (unknown keys and wrong kinds are a
// *ValidationError naming each) and applies the defaults. It does not
// validate: Validate needs the instance's NICs, which only the agent knows.
func LoadAgent(data []byte) (Agent, error) {
	var a Agent
	if err := decodeStrict(data, &a); err != nil {
		return Agent{}, fmt.Errorf("agent config: %w", err)
	}
	a.SetDefaults()
	return a, nil
}

// LoadAgentFile is LoadAgent on the contents of path.
func LoadAgentFile(path string) (Agent, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Agent{}, fmt.Errorf("agent config: %w", err)
	}
	a, err := LoadAgent(data)
	if err != nil {
		return Agent{}, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// LoadReconciler decodes, defaults and validates a reconciler config. Every
// error it returns is a configuration error (the CLI exits 2); a
// *ValidationError among them lists every problem found.
func LoadReconciler(data []byte) (Reconciler, error) {
	var r Reconciler
	if err := decodeStrict(data, &r); err != nil {
		return Reconciler{}, fmt.Errorf("reconciler config: %w", err)
	}
	r.SetDefaults()
	if err := r.Validate(); err != nil {
		return Reconciler{}, fmt.Errorf("reconciler config: %w", err)
	}
	return r, nil
}

// LoadReconcilerFile is LoadReconciler on the contents of path.
func LoadReconcilerFile(path string) (Reconciler, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Reconciler{}, fmt.Errorf("reconciler config: %w", err)
	}
	r, err := LoadReconciler(data)
	if err != nil {
		return Reconciler{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Defaults, named so that docs, tests and other packages agree.
const (
	DefaultPriority           = 900
	DefaultPolicyNIC          = 1
	DefaultPolicyTable        = 1
	DefaultPolicyTableName    = "rt1"
	DefaultHealthPort         = 9780
	DefaultDrainGrace         = 10 * time.Second
	DefaultRoutePrefix        = "vpclink"
	DefaultProbePath          = "/readyz"
	DefaultProbeInterval      = time.Second
	DefaultProbeTimeout       = 800 * time.Millisecond
	DefaultProbeFailures      = 3
	DefaultProbeSuccesses     = 2
	DefaultMinHealthyFraction = 0.5
	DefaultBootGrace          = 120 * time.Second
	DefaultListen             = ":9781"
	DefaultReconcileInterval  = 10 * time.Second
	MaxRoutePriority          = 65535
)

// SetDefaults fills every field left out (zero) with its default. A zero
// written out explicitly is indistinguishable from a missing key for the
// non-pointer fields, so `grace: 0s` or `nic: 0` also mean the default.
// Route projects stay empty: the instance's project is known only at run
// time (see RouteSpec.ProjectOr).
func (a *Agent) SetDefaults() {
	for i := range a.Routes {
		r := &a.Routes[i]
		if r.Priority == nil {
			p := uint32(DefaultPriority)
			r.Priority = &p
		}
		if r.NextHop == "" {
			r.NextHop = NextHopInstance
		}
	}
	if a.PolicyRouting.NIC == 0 {
		a.PolicyRouting.NIC = DefaultPolicyNIC
	}
	if a.PolicyRouting.Table == 0 {
		a.PolicyRouting.Table = DefaultPolicyTable
	}
	if a.PolicyRouting.TableName == "" {
		a.PolicyRouting.TableName = DefaultPolicyTableName
	}
	if a.Health.Port == 0 {
		a.Health.Port = DefaultHealthPort
	}
	if a.Drain.Grace.Duration == 0 {
		a.Drain.Grace = dur(DefaultDrainGrace)
	}
	if a.RoutePrefix == "" {
		a.RoutePrefix = DefaultRoutePrefix
	}
}

// ProjectOr is the project the route lives in: its own, or the instance's.
func (r RouteSpec) ProjectOr(instanceProject string) string {
	if r.Project != "" {
		return r.Project
	}
	return instanceProject
}

// SetDefaults fills every field left out with its default. An allow entry
// without a priority range ({min: 0, max: 0}) allows the agents' default
// priority only: a forwarder must not choose its routes' precedence.
func (r *Reconciler) SetDefaults() {
	if r.RoutePrefix == "" {
		r.RoutePrefix = DefaultRoutePrefix
	}
	for i := range r.Allow {
		a := &r.Allow[i]
		if a.Project == "" {
			a.Project = r.Project
		}
		if a.Priority == (PriorityRange{}) {
			a.Priority = PriorityRange{Min: DefaultPriority, Max: DefaultPriority}
		}
	}
	p := &r.Probe
	if p.Port == 0 {
		p.Port = DefaultHealthPort
	}
	if p.Path == "" {
		p.Path = DefaultProbePath
	}
	if p.Interval.Duration == 0 {
		p.Interval = dur(DefaultProbeInterval)
	}
	if p.Timeout.Duration == 0 {
		p.Timeout = dur(DefaultProbeTimeout)
	}
	if p.Failures == 0 {
		p.Failures = DefaultProbeFailures
	}
	if p.Successes == 0 {
		p.Successes = DefaultProbeSuccesses
	}
	if r.MinHealthyFraction == nil {
		f := DefaultMinHealthyFraction
		r.MinHealthyFraction = &f
	}
	if r.BootGrace.Duration == 0 {
		r.BootGrace = dur(DefaultBootGrace)
	}
	if r.Listen == "" {
		r.Listen = DefaultListen
	}
	if r.Interval.Duration == 0 {
		r.Interval = dur(DefaultReconcileInterval)
	}
	if r.Restore.MaxPerForwarder == 0 {
		r.Restore.MaxPerForwarder = DefaultRestoreMaxPerForwarder
	}
	if r.Restore.MaxPerPass == 0 {
		r.Restore.MaxPerPass = DefaultRestoreMaxPerPass
	}
	if r.Healthz.FailAfter.Duration == 0 {
		r.Healthz.FailAfter = dur(DefaultHealthzFailAfter)
	}
}
