// Package routeplan decides what the reconciler does to vpclink's GCE routes.
// It is pure: the caller gathers the groups' managed instances, the zones'
// instances, the owned routes, the probe verdicts and the healthy forwarders'
// /status, and Compute returns the actions and the fail-static verdict. No
// I/O, no clock: Input.Now is the only time.
//
// Choices DESIGN.md leaves open, recorded here:
//
//   - Scope. A route is considered only when naming.IsOwned holds (prefix and
//     marker), and then only when it is ours to judge: its instance id is a
//     member of one of the configured groups, or its marker names one of those
//     groups, or its marker has no group and names a zone we listed. Owned
//     routes of other shards (other groups) are never in the plan.
//   - API evidence prunes at once, whatever the probes say: the member is not
//     RUNNING; its MIG currentAction is DELETING, RECREATING or ABANDONING;
//     the route's instance id is not a member of the group any more (gone,
//     abandoned, or an older incarnation).
//   - Stale incarnations (a member with the marker's instance name exists with
//     another id). The old route can never forward to its VM again, so it is
//     pruned on API evidence. "New before old" is kept where it can matter:
//     when the new incarnation is Healthy and its /status asks for the same
//     range whose route is missing, the plan inserts the new route and the
//     stale delete carries After = that insert's name, so the reconciler runs
//     it only once the insert is DONE. When the new incarnation is not
//     Healthy (still booting, say) nothing routes through it, and waiting
//     would only keep a blackhole alive: the stale route goes at once.
//   - Probe evidence and fail static are judged per group. The fraction is
//     healthy / (healthy + unhealthy) over the group's RUNNING members without
//     API evidence; Starting and unprobed members have no verdict and count in
//     neither, so a scale-out of booting VMs cannot engage fail static.
//     A Healthy member whose latest probe failed counts in the total but not
//     as healthy: when the reconciler is cut off, the forwarders cross the
//     failure threshold one by one (probes are spread over the interval), and
//     the first to cross must already see the others as suspect, or its
//     routes would be deleted before fail static engages. The price is one
//     probe interval of delay when a healthy forwarder blips at the moment
//     another one dies.
//     Fail static is engaged for a group when that fraction is below
//     minHealthyFraction and at least one member is Unhealthy.
//   - Starting: no successful probe yet and younger than bootGrace (creation
//     time from the instances list), whatever the probe verdict. A member the
//     monitor has not probed yet is Unknown and treated like Starting.
//   - Restore inserts only routes missing by name, for members that are
//     Healthy, RUNNING, without API evidence, whose /status reports the same
//     instance id and name, ready, and not draining. Each wanted route must
//     carry the name naming.RouteName gives for that id, fit an allow entry
//     (network, project, destRange inside a superset, priority in range) and
//     point its next hop at that very instance (its URL or one of its NIC
//     addresses). Everything else is listed in Plan.Rejected and never
//     created. Routes a healthy forwarder has but no longer wants are the
//     agent's business, not the reconciler's; so is a route that exists
//     under the wanted name with another priority or tags (replacing it is
//     a delete and an insert of the same name, which only the agent may
//     sequence safely).
package routeplan

import (
	"fmt"
	"sort"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
)

// Op is what an action does to a route.
type Op string

// Operations.
const (
	OpDelete Op = "delete"
	OpInsert Op = "insert"
)

// Evidence is why an action is taken.
type Evidence string

// Kinds of evidence.
const (
	EvidenceAPI     Evidence = "api"     // the Compute API says the next hop is gone or going
	EvidenceProbe   Evidence = "probe"   // N consecutive failed probes, outside fail static
	EvidenceRestore Evidence = "restore" // a Healthy forwarder asks for a missing route
	EvidenceStale   Evidence = "stale"   // an older incarnation of a current member
)

// Verdict is the probe verdict of one forwarder.
type Verdict string

// Verdicts. Unknown means the monitor has no state for the forwarder yet.
const (
	Unknown   Verdict = "unknown"
	Starting  Verdict = "starting"
	Healthy   Verdict = "healthy"
	Unhealthy Verdict = "unhealthy"
)

// Probe is the health monitor's view of one forwarder, reduced to what the
// plan needs (the reconciler converts health.State).
type Probe struct {
	Verdict             Verdict
	ConsecutiveFailures int
	EverSucceeded       bool
	EverHealthy         bool // reached the success threshold at least once
}

// Member is one row of a group's listManagedInstances.
type Member struct {
	Group   string
	Managed gce.ManagedInstance
}

// Input is everything a plan is computed from.
type Input struct {
	Config config.Reconciler // defaults applied
	Now    time.Time
	// Writer goes into the agent= key of restored routes' markers.
	Writer string
	// Members of every configured group; Instances of every zone listed
	// (members and others); Routes as listed with the prefix (non-owned
	// ones are filtered out here).
	Members   []Member
	Instances []gce.Instance
	Routes    []gce.Route
	// Probes and Wanted are keyed by instance id. Wanted holds the /status
	// of Healthy forwarders the caller fetched.
	Probes map[instanceid.ID]Probe
	Wanted map[instanceid.ID]agentapi.Status
}

// Action is one route change.
type Action struct {
	Op       Op
	Route    gce.Route
	Reason   string
	Evidence Evidence
	Group    string
	Instance string // instance name, from the member or the route's marker
	// InstanceID is the incarnation the route belongs to.
	InstanceID instanceid.ID
	// After names an insert of this plan that must be DONE before this
	// action runs; the action is skipped this round if that insert fails.
	After string
}

// String renders the action for logs and the plan command.
func (a Action) String() string {
	s := fmt.Sprintf("%s %s (%s %s %s) [%s] %s", a.Op, a.Route.Name, a.Instance,
		a.InstanceID.String(), a.Route.DestRange, a.Evidence, a.Reason)
	if a.After != "" {
		s += " after " + a.After
	}
	return s
}

// FailStatic is the fail-static verdict: Engaged when at least one group
// has too few healthy forwarders for probe evidence to prune.
type FailStatic struct {
	Engaged bool
	Reason  string
	Groups  []string
}

// Forwarder is the plan's view of one member, for status, metrics and logs.
type Forwarder struct {
	Group    string
	Name     string
	ID       instanceid.ID
	Zone     string
	Status   string // instance status (RUNNING, TERMINATED, ...) or "" while creating
	Action   string // MIG currentAction
	IP       string // nic0
	Created  time.Time
	Health   Verdict // effective: boot grace applied
	State    State
	Evidence string // API evidence against it, if any
	Routes   []string
}

// State summarises a forwarder for the vpclink_forwarders{state} metric.
type State string

// Forwarder states.
const (
	StateHealthy   State = "healthy"
	StateUnhealthy State = "unhealthy"
	StateStarting  State = "starting" // Starting or Unknown verdict, or still booting
	StateDown      State = "down"     // API evidence: stopped, gone or leaving the group
)

// RouteState summarises an owned route for vpclink_owned_routes{state}.
type RouteState string

// Route states.
const (
	RouteActive  RouteState = "active"  // kept: its forwarder is healthy or starting
	RouteHeld    RouteState = "held"    // would be pruned on probes, kept by fail static
	RoutePruning RouteState = "pruning" // a delete is planned
)

// Rejection is a route a Healthy forwarder asked for that the plan will not
// create, and why.
type Rejection struct {
	Instance   string
	InstanceID instanceid.ID
	Route      string
	Reason     string
}

// Plan is the result of Compute.
type Plan struct {
	Actions    []Action
	FailStatic FailStatic
	Forwarders []Forwarder
	// RouteStates counts the in-scope owned routes by state.
	RouteStates map[RouteState]int
	Rejected    []Rejection
}

// Compute returns the plan for in. It never fails: input it cannot judge
// (routes out of scope, malformed /status entries) is left alone or
// reported in Rejected.
func Compute(in Input) Plan {
	p := planner{in: in, prefix: in.Config.RoutePrefix}
	p.indexInstances()
	p.judgeMembers()
	p.judgeRoutes()
	p.applyFailStatic()
	p.restore()
	return p.finish()
}

func (p *planner) finish() Plan {
	sort.SliceStable(p.actions, func(i, j int) bool {
		a, b := p.actions[i], p.actions[j]
		if a.Op != b.Op {
			return a.Op == OpInsert // inserts first: stale deletes may wait on them
		}
		return a.Route.Name < b.Route.Name
	})
	sort.Slice(p.rejected, func(i, j int) bool {
		if p.rejected[i].Route != p.rejected[j].Route {
			return p.rejected[i].Route < p.rejected[j].Route
		}
		return p.rejected[i].Reason < p.rejected[j].Reason
	})
	fwds := make([]Forwarder, 0, len(p.members))
	for _, m := range p.members {
		sort.Strings(m.Routes)
		fwds = append(fwds, m.Forwarder)
	}
	sort.Slice(fwds, func(i, j int) bool {
		if fwds[i].Group != fwds[j].Group {
			return fwds[i].Group < fwds[j].Group
		}
		return fwds[i].Name < fwds[j].Name
	})
	return Plan{
		Actions:     p.actions,
		FailStatic:  p.failStatic,
		Forwarders:  fwds,
		RouteStates: p.routeStates,
		Rejected:    p.rejected,
	}
}
