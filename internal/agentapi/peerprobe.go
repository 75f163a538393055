package agentapi

// PeerProbe is the body of the agent's GET /peer-probe?addr=IP: what this
// forwarder saw when it probed a group peer's health port over nic0 on a
// reconciler's request. It is a second vantage point on the peer, for the
// reconciler's corroboration of a probe-evidence prune (DESIGN.md invariant 5).
type PeerProbe struct {
	Observer string `json:"observer"` // this forwarder's instance name
	Target   string `json:"target"`   // the peer's nic0 address
	Answered bool   `json:"answered"` // the peer answered at all (any HTTP status): it is alive
	Status   int    `json:"status,omitempty"`
	Err      string `json:"err,omitempty"` // why it did not answer
	At       string `json:"at"`            // RFC 3339, when the probe started
	Took     string `json:"took"`          // Go duration syntax
}
