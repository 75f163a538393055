// Package routeplan decides what the reconciler does to vpclink's GCE routes.
// It is pure: the caller gathers the groups' managed instances, the zones'
// instances, the owned routes, the probe states and the healthy forwarders'
// /status, and Compute returns a Decision: the actions, the fail-static
// verdict and the forwarders as judged. No I/O, no clock: Input.Now is the
// only time.
//
// Compute runs in phases, each in its own file with the choices it makes
// written next to it:
//
//	index.go      what exists: instances and members joined, scope
//	members.go    each member's state: API evidence, effective health
//	routes.go     each owned route in scope: kept, pruned, or pending probes
//	corroboration.go pending probe prunes issued where a peer agrees, held elsewhere
//	restore.go    inserts for what Healthy forwarders ask for (allow.go)
//
// The phases share one value, the planner; actions are kept by route name,
// so an ordering between two of them (After) names a route, never a
// position.
package routeplan
