// Package agentapi is the JSON the agent serves on /status and the reconciler
// reads to decide what a healthy forwarder may have restored. The field names
// are a contract (DESIGN.md): add fields, never rename or re-purpose one.
package agentapi

import "github.com/vpclink/vpclink/internal/instanceid"

// Status is the body of the agent's GET /status.
type Status struct {
	Instance  Instance        `json:"instance"`
	Ready     bool            `json:"ready"`
	Routes    []Route         `json:"routes"`
	Phase     string          `json:"phase,omitempty"` // starting, announcing, serving, draining, drained
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
