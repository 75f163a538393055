// Package agentapi is the JSON the agent serves on /status and the reconciler
// reads to decide what a healthy forwarder may have restored. The field names
// are a contract (DESIGN.md): add fields, never rename or re-purpose one.
package agentapi

import "github.com/vpclink/vpclink/internal/instanceid"

// Phases of an agent, in Status.Phase, in the /readyz body ("ok" or "not
// ready: PHASE[: why]") and in the /readyz response header PhaseHeader.
//
// What probe evidence means (the reconciler's reading):
//   - no answer (timeout, refused, reset): the forwarder may be dead;
//   - an answer with phase starting or announcing: it is coming up (its data
//     plane is converging, or its routes are being inserted): neither dead
//     nor ready, whatever /readyz's status code;
//   - an answer with phase serving and Forwarding false: it answers but
//     cannot forward (its kernel state is broken): a failed probe;
//   - an answer with phase draining or drained: it is leaving on purpose (a
//     stop, or the instance's vpclink-drain metadata mark); restore nothing.
const (
	PhaseStarting   = "starting"   // waiting for the data plane to converge
	PhaseAnnouncing = "announcing" // data plane ready; inserting routes, removing stale ones
	PhaseServing    = "serving"    // routes announced
	PhaseDraining   = "draining"   // withdrawing routes, still forwarding
	PhaseDrained    = "drained"    // routes withdrawn; still forwarding until the process ends or the mark is cleared
)

// PhaseHeader carries the phase on every /readyz answer.
const PhaseHeader = "Vpclink-Phase"

// Status is the body of the agent's GET /status. Ready keeps the meaning it
// had from the first release: /readyz answers 200.
type Status struct {
	Instance Instance `json:"instance"`
	Ready    bool     `json:"ready"`
	Routes   []Route  `json:"routes"`
	Phase    string   `json:"phase,omitempty"` // one of the Phase constants
	// Forwarding reports whether the data plane (sysctls, rt1, rules,
	// routes via nic1) is what the forwarder needs, whatever the phase.
	Forwarding bool `json:"forwarding"`
	// Draining is true from the moment the agent starts withdrawing (a stop,
	// or the drain mark) until it exits or the mark is cleared.
	Draining  bool            `json:"draining"`
	Version   string          `json:"version,omitempty"`
	DataPlane *DataPlaneState `json:"dataPlane,omitempty"`
}

// Instance is the forwarder's identity from the metadata server.
type Instance struct {
	Name    string        `json:"name"`
	ID      instanceid.ID `json:"id"` // a JSON string, as GCE writes ids
	Zone    string        `json:"zone"`
	Project string        `json:"project"`
}

// Route is one GCE route the forwarder wants to exist.
type Route struct {
	Name      string   `json:"name"`
	Project   string   `json:"project"`
	Network   string   `json:"network"`
	DestRange string   `json:"destRange"`
	Priority  uint32   `json:"priority"`
	Tags      []string `json:"tags"`
	NextHop   string   `json:"nextHop"` // instance URL, or the next-hop IP when nextHop mode is ip
}

// DataPlaneState is what the agent wants in the kernel, what is there, and
// its last repair.
type DataPlaneState struct {
	Wanted     []string       `json:"wanted"` // rendered as ip rule / ip route / sysctl lines
	Actual     []string       `json:"actual"`
	LastRepair *Repair        `json:"lastRepair,omitempty"`
	Repairs    map[string]int `json:"repairs"` // by cause
}

// Repair is one data-plane repair.
type Repair struct {
	Time  string   `json:"time"` // RFC 3339
	Cause string   `json:"cause"`
	Fixed []string `json:"fixed"`
}
