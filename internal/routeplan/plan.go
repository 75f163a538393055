package routeplan

import (
	"fmt"
	"sort"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/corroborate"
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
	EvidenceProbe   Evidence = "probe"   // N consecutive failed probes, corroborated by a peer
	EvidenceRestore Evidence = "restore" // a Healthy forwarder asks for a missing route
	EvidenceStale   Evidence = "stale"   // an older incarnation of a current member
)

// Health is a forwarder's effective health as the plan judges it: the
// health monitor's verdict with the boot grace applied. It is not the
// monitor's verdict (health.Verdict): Unknown has no counterpart there, and
// a monitor verdict of Unhealthy can be Starting here.
type Health string

// Health values. Unknown means the monitor has no state for the forwarder yet.
const (
	Unknown   Health = "unknown"
	Starting  Health = "starting"
	Healthy   Health = "healthy"
	Unhealthy Health = "unhealthy"
	Draining  Health = "draining" // its agent answers that it withdraws its routes
)

// Probe is the health monitor's view of one forwarder, reduced to what the
// plan needs (the reconciler converts health.State).
type Probe struct {
	Verdict             Health // the monitor's verdict: Starting, Healthy, Unhealthy or Draining
	ConsecutiveFailures int
	EverSucceeded       bool
	EverHealthy         bool // reached the success threshold since the instance's last start
	// StreakStart is when the current run of failed probes began; zero
	// when the latest probe did not fail.
	StreakStart time.Time
	// Answered: the latest failure was the forwarder's own answer that it
	// cannot forward (an HTTP error status), not silence.
	Answered bool
}

// Member is one row of a group's listManagedInstances.
type Member struct {
	Group   string
	Managed gce.ManagedInstance
}

// Input is everything a decision is computed from.
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
	// Unread names the groups whose reads failed this pass: they are in
	// neither Members nor judged.
	Unread []string
	// Judgements are other vantage points' views of suspect forwarders, by
	// instance id (package corroborate): a probe prune needs one that is
	// Down, and a restore is held while one is.
	Judgements map[instanceid.ID]corroborate.Judgement
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
	// After names an insert of this decision that must be DONE before this
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

// FailStatic summarises the holds: Engaged while at least one forwarder's
// probe-evidence prune waits for corroboration (corroboration.go).
type FailStatic struct {
	Engaged bool
	Reason  string
	Groups  []string
}

// Forwarder is the decision's view of one member, for status, metrics and logs.
type Forwarder struct {
	Group    string
	Name     string
	ID       instanceid.ID
	Zone     string
	Status   string // instance status (RUNNING, TERMINATED, ...) or "" while creating
	Action   string // MIG currentAction
	IP       string // nic0
	Created  time.Time
	Started  time.Time // lastStartTimestamp; Created when GCE gives none
	Draining bool      // carries the vpclink-drain metadata mark
	Health   Health    // effective: boot grace applied
	State    State
	Evidence string // API evidence against it, if any
	Routes   []string
	// Judgement is the other vantage points' view, when they were asked
	// (the forwarder was suspect): who corroborated a verdict, or not.
	Judgement *corroborate.Judgement
}

// State summarises a forwarder for the vpclink_forwarders{state} metric.
type State string

// Forwarder states.
const (
	StateHealthy   State = "healthy"
	StateUnhealthy State = "unhealthy"
	StateStarting  State = "starting" // Starting or Unknown health, or still booting
	StateDraining  State = "draining" // its agent withdraws its routes on purpose
	StateDown      State = "down"     // API evidence: stopped, gone or leaving the group
)

// RouteState summarises an owned route for vpclink_owned_routes{state}.
type RouteState string

// Route states.
const (
	RouteActive  RouteState = "active"  // kept: its forwarder is healthy or starting
	RouteHeld    RouteState = "held"    // would be pruned on probes, kept for lack of corroboration
	RoutePruning RouteState = "pruning" // a delete is planned
)

// Rejection is a route a Healthy forwarder asked for that the decision will
// not create, and why.
type Rejection struct {
	Instance   string
	InstanceID instanceid.ID
	Route      string
	Reason     string
}

// Decision is the result of Compute.
type Decision struct {
	// Actions are inserts first (stale deletes may wait on them), then
	// deletes, each by route name.
	Actions    []Action
	FailStatic FailStatic
	// Uncorroborated are the forwarders whose probe prunes are held, by name.
	Uncorroborated []Held
	Forwarders     []Forwarder
	// RouteStates counts the in-scope owned routes by state.
	RouteStates map[RouteState]int
	Rejected    []Rejection
	// Capped counts the restores left for later passes by a restore cap
	// (they are in Rejected too).
	Capped int
}

// Compute returns the decision for in. It never fails: input it cannot
// judge (routes out of scope, malformed /status entries) is left alone or
// reported in Rejected.
func Compute(in Input) Decision {
	p := newPlanner(in)
	p.indexInstances()
	p.judgeMembers()
	p.judgeRoutes()
	p.applyCorroboration()
	p.restore()
	return p.finish()
}

// planner is the state the phases share: what exists (index), what was
// judged, and the decision being built. Each phase reads what earlier
// phases wrote and adds its own part; none rewrites another's.
type planner struct {
	in     Input
	prefix string
	idx    index
	unread map[string]bool

	// ownedNames are the owned routes in scope, by name (routes.go).
	ownedNames map[string]bool
	// staleByHash names the stale deletes by the current incarnation's id
	// and the range hash, so a restore of the same range can order them
	// after its insert (routes.go, restore.go).
	staleByHash map[instanceid.ID]map[string][]string
	// pending are routes probe evidence would prune, if a peer corroborates
	// (routes.go, corroboration.go).
	pending []pendingProbe
	// counts are each group's healthy and unhealthy members (members.go).
	counts map[string]*groupCount

	// actions are the decision's actions by route name: a route is either
	// present (it may be deleted) or missing (it may be inserted), never both.
	actions     map[string]Action
	restores    int // inserts planned
	capped      int // inserts refused by a restore cap
	rejected    []Rejection
	failStatic  FailStatic
	held        []Held
	routeStates map[RouteState]int
}

func newPlanner(in Input) *planner {
	p := &planner{
		in: in, prefix: in.Config.RoutePrefix, unread: map[string]bool{},
		ownedNames:  map[string]bool{},
		staleByHash: map[instanceid.ID]map[string][]string{},
		counts:      map[string]*groupCount{},
		actions:     map[string]Action{},
		routeStates: map[RouteState]int{},
	}
	for _, g := range in.Unread {
		p.unread[g] = true
	}
	return p
}

// add records an action for its route.
func (p *planner) add(a Action) { p.actions[a.Route.Name] = a }

func (p *planner) finish() Decision {
	actions := make([]Action, 0, len(p.actions))
	for _, a := range p.actions {
		actions = append(actions, a)
	}
	sort.Slice(actions, func(i, j int) bool {
		a, b := actions[i], actions[j]
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
	fwds := make([]Forwarder, 0, len(p.idx.members))
	for _, m := range p.idx.members {
		sort.Strings(m.Routes)
		m.Judgement = p.judgementOf(m)
		fwds = append(fwds, m.Forwarder)
	}
	sort.Slice(fwds, func(i, j int) bool {
		if fwds[i].Group != fwds[j].Group {
			return fwds[i].Group < fwds[j].Group
		}
		return fwds[i].Name < fwds[j].Name
	})
	if len(actions) == 0 {
		actions = nil
	}
	return Decision{
		Actions:        actions,
		FailStatic:     p.failStatic,
		Uncorroborated: p.held,
		Forwarders:     fwds,
		RouteStates:    p.routeStates,
		Rejected:       p.rejected,
		Capped:         p.capped,
	}
}
