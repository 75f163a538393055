package lab

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gcefake"
)

// Profile is a model of the cloud the lab runs under: how long GCE takes,
// how long a new VM takes to boot, whether the group heals itself, and the
// settings of vpclink that production runs with. Every figure names its
// source; where none publishes one, the choice is stated.
type Profile struct {
	Name        string
	OpLatency   gcefake.Latency // operation call → DONE
	Propagation gcefake.Latency // operation DONE → data plane
	BootDelay   time.Duration   // instance creation → RUNNING
	RouteGrace  time.Duration   // route of a stopped next hop stays in effect
	DrainGrace  time.Duration   // agents' drain.grace and the rollout's
	BootGrace   time.Duration   // the reconciler's bootGrace
	AutoHealing bool            // the fake's MIG recreates members its health check fails
}

// Profiles are the lab's models, by name.
var Profiles = map[string]Profile{
	// gce is Google Cloud as the lab can know it. It is the default: a
	// figure measured under a kinder model flatters.
	"gce": {
		Name: "gce",
		// GCE publishes no operation latency; route inserts and deletes
		// are global operations that take seconds to tens of seconds
		// (DESIGN.md's timing budget). The choice: uniform over 5–20 s,
		// so that no run rests on one lucky value.
		OpLatency: gcefake.Latency{Min: 5 * time.Second, Max: 20 * time.Second},
		// The VPC routes overview calls route programming eventually
		// consistent and gives no figure: 1–3 s is this project's choice.
		Propagation: gcefake.Latency{Min: time.Second, Max: 3 * time.Second},
		// Creation to RUNNING. The earlier team measured about 30 s to
		// provision a recreated instance, guest start included; 20 s to
		// RUNNING is the choice, the agent's start comes on top.
		BootDelay: 20 * time.Second,
		// The earlier team saw routes of terminated next hops turn invalid
		// 1–2 minutes after termination.
		RouteGrace: 60 * time.Second,
		// Production's defaults (internal/config): drain.grace and the
		// reconciler's bootGrace.
		DrainGrace: config.DefaultDrainGrace,
		BootGrace:  config.DefaultBootGrace,
		// The group heals itself with the forwarder module's check (below).
		AutoHealing: true,
	},
	// fast is the lab's first model, for quick runs and CI: 2 s
	// operations, no propagation delay, 3 s boots, a 15 s boot grace, and
	// the lab itself recreating a panicked member once it has measured.
	"fast": {
		Name:       "fast",
		OpLatency:  gcefake.Fixed(2 * time.Second),
		BootDelay:  3 * time.Second,
		RouteGrace: 60 * time.Second,
		DrainGrace: 3 * time.Second,
		BootGrace:  15 * time.Second,
	},
}

// DefaultProfile is what `vpclink lab` runs without --profile.
const DefaultProfile = "gce"

// ProfileNames lists the profiles, sorted.
func ProfileNames() []string {
	var out []string
	for n := range Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ProfileOptions returns the options of profile name: its model and the
// lab's group size; the caller adds topology, binary and logs.
func ProfileOptions(name string) (Options, error) {
	p, ok := Profiles[name]
	if !ok {
		return Options{}, fmt.Errorf("profile %q: unknown (known: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	return Options{
		Profile:     p.Name,
		Forwarders:  3,
		Designs:     []string{DesignVPCLink},
		OpLatencies: []gcefake.Latency{p.OpLatency},
		Propagation: p.Propagation,
		BootDelay:   p.BootDelay,
		RouteGrace:  p.RouteGrace,
		DrainGrace:  p.DrainGrace,
		BootGrace:   p.BootGrace,
		AutoHealing: p.AutoHealing,
	}, nil
}

// Designs: vpclink itself, and the baselines DESIGN.md names (design.go).
const DesignVPCLink = "vpclink"

// KnownDesigns are the designs --design accepts, vpclink first.
var KnownDesigns = []string{DesignVPCLink, "shutdown-script", "autoheal-cleanup", "ilb", "ncc-bgp"}

// The group's autohealing health check when the profile has autohealing:
// the forwarder module's (terraform/modules/vpclink-vm/health.tf: GET
// /healthz on the agent's port every 10 s, 5 s timeout, 2 successes to be
// healthy, 3 failures to recreate; terraform/modules/forwarders: initial
// delay 180 s after creation).
const (
	healPath         = "/healthz"
	healInterval     = 10 * time.Second
	healTimeout      = 5 * time.Second
	healHealthy      = 2
	healUnhealthy    = 3
	healInitialDelay = 180 * time.Second
)

// autoHealing is that check as the fake GCE runs it: from the health
// checkers' address to every member's nic0.
func autoHealing() *gcefake.AutoHealing {
	return &gcefake.AutoHealing{
		Port: agentPort, Path: healPath,
		Interval: healInterval, Timeout: healTimeout,
		HealthyThreshold: healHealthy, UnhealthyThreshold: healUnhealthy,
		InitialDelay: healInitialDelay,
	}
}

func autoHealingModel() *AutoHealingModel {
	return &AutoHealingModel{
		Port: agentPort, Path: healPath,
		IntervalSeconds: healInterval.Seconds(), TimeoutSeconds: healTimeout.Seconds(),
		HealthyThreshold: healHealthy, UnhealthyThreshold: healUnhealthy,
		InitialDelaySeconds: healInitialDelay.Seconds(),
	}
}

// The budgets panic-rate-limited sets before it spends the writes: GCE's
// default per-project rate quotas, 1,500 mutating calls and 1,500 reads per
// minute, counted in windows synchronized to the minute (Compute Engine rate
// quotas, cloud.google.com/compute/api-quota).
const (
	writesPerMinute = 1500
	readsPerMinute  = 1500
)
