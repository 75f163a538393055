package config

import "time"

// Duration is a time.Duration written in YAML as "10s", "800ms".
type Duration struct{ time.Duration }

// Agent is the forwarder agent's configuration: the vpclink-config metadata
// attribute, or the file given with --config.
type Agent struct {
	Routes        []RouteSpec   `json:"routes"`
	PolicyRouting PolicyRouting `json:"policyRouting"`
	Health        AgentHealth   `json:"health"`
	Drain         Drain         `json:"drain"`
	RoutePrefix   string        `json:"routePrefix"`
}

// RouteSpec is one set of GCE routes this forwarder announces: one route per
// destination range.
type RouteSpec struct {
	Network    string   `json:"network"` // name or URL; must be the network of one of the instance's NICs
	Project    string   `json:"project"` // default: the instance's project
	DestRanges []string `json:"destRanges"`
	Priority   *uint32  `json:"priority"` // 0..65535; default 900
	Tags       []string `json:"tags"`
	NextHop    string   `json:"nextHop"` // "instance" (default) or "ip"
}

// Next-hop modes of RouteSpec.NextHop.
const (
	NextHopInstance = "instance"
	NextHopIP       = "ip"
)

// PolicyRouting describes the rt1 table on the second NIC.
type PolicyRouting struct {
	NIC       int      `json:"nic"`       // default 1
	Table     int      `json:"table"`     // default 1
	TableName string   `json:"tableName"` // default rt1
	Via       []string `json:"via"`       // main-table routes via the NIC's gateway
}

// AgentHealth is where the agent serves /healthz, /readyz, /status, /metrics.
type AgentHealth struct {
	Port int `json:"port"` // default 9780
	// Listen, when set, is the listen address host:port and wins over Port;
	// ":9780" serves on every address. Default: nic0's address and Port, so
	// that the port is not reachable through nic1 (the other VPC).
	Listen string `json:"listen"`
}

// Drain controls withdraw-before-stop.
type Drain struct {
	Grace Duration `json:"grace"` // default 10s
}

// Reconciler is the central reconciler's configuration file.
type Reconciler struct {
	Project            string   `json:"project"`
	RoutePrefix        string   `json:"routePrefix"`
	Groups             []Group  `json:"groups"`
	Allow              []Allow  `json:"allow"`
	Probe              Probe    `json:"probe"`
	MinHealthyFraction *float64 `json:"minHealthyFraction"` // default 0.5; deprecated: validated, no effect (a probe prune needs a peer instead)
	BootGrace          Duration `json:"bootGrace"`          // default 120s
	Listen             string   `json:"listen"`             // default :9781
	Interval           Duration `json:"interval"`           // full pass period; default 10s
	Restore            Restore  `json:"restore"`
	Healthz            Healthz  `json:"healthz"`
}

// Restore caps what one pass may insert for the forwarders' /status.
type Restore struct {
	MaxPerForwarder int `json:"maxPerForwarder"` // default 64
	MaxPerPass      int `json:"maxPerPass"`      // default 256
}

// Healthz is when the reconciler's /healthz fails, so that its MIG
// autoheals it.
type Healthz struct {
	// FailAfter: no pass has read every group for this long. Default 5m.
	FailAfter Duration `json:"failAfter"`
}

// Reconciler defaults that only the reconciler's config uses.
const (
	DefaultRestoreMaxPerForwarder = 64
	DefaultRestoreMaxPerPass      = 256
	DefaultHealthzFailAfter       = 5 * time.Minute
)

// Group is one forwarder MIG: zonal (Zone) or regional (Region), not both.
type Group struct {
	Name   string `json:"name"`
	Zone   string `json:"zone"`
	Region string `json:"region"`
}

// Allow is one entry of the allowlist restores must fit.
type Allow struct {
	Network    string        `json:"network"`
	Project    string        `json:"project"` // default: Reconciler.Project
	DestRanges []string      `json:"destRanges"`
	Priority   PriorityRange `json:"priority"` // default {min: 900, max: 900}, the agents' default
	// PrefixLength admits ranges of these lengths inside destRanges; without
	// it a restored range must be one of destRanges exactly.
	PrefixLength *LengthRange `json:"prefixLength"`
}

// LengthRange bounds restored ranges' prefix lengths, inclusive.
type LengthRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// PriorityRange bounds restored routes' priority, inclusive.
type PriorityRange struct {
	Min uint32 `json:"min"`
	Max uint32 `json:"max"`
}

// Probe is how the reconciler probes each forwarder's readiness on nic0.
type Probe struct {
	Port      int      `json:"port"`      // default 9780
	Path      string   `json:"path"`      // default /readyz
	Interval  Duration `json:"interval"`  // default 1s
	Timeout   Duration `json:"timeout"`   // default 800ms
	Failures  int      `json:"failures"`  // default 3
	Successes int      `json:"successes"` // default 2
}

// GroupNames lists the groups' names in config order.
func (r Reconciler) GroupNames() []string {
	names := make([]string, len(r.Groups))
	for i, g := range r.Groups {
		names[i] = g.Name
	}
	return names
}
