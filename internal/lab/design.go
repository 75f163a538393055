package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// design is one way of keeping traffic flowing through the forwarder
// group: vpclink itself, or an earlier design the comparison measures it
// against (shared ANCHORS: shutdown-script, autoheal-cleanup, ilb,
// ncc-bgp). A run loops operation latency → design → scenario; before a
// design's scenarios the lab empties the group, stops the previous design's
// control part, recreates the group with this design's spec and starts this
// design's control part (useDesign). Everything else (fake GCE, fabric,
// traffic, checks, pictures) is shared, so that all designs are measured
// under one model.
//
// To add a design, write a file with a type implementing these methods and
// register it from that file:
//
//	func init() { registerDesign(newILB) }
//
// The hooks, in the order the lab calls them:
//   - group: the forwarder group's instance metadata, autohealing policy
//     (nil: none; the lab then recreates a panicked member itself once the
//     scenario has measured) and update policy (nil: the fake's default).
//   - control: starts the design's central part once the group exists
//     and is empty (vpclink: the reconciler; ilb: the load balancer's
//     health checks and flow table; ncc-bgp: the Cloud Router model), and
//     returns stop, called before the next design. control may program the
//     fabric: e.fabric.AddSource adds a RouteSource (its routes join the
//     fake's effective routes by priority and hash), e.fabric.Router(network)
//     hands out a router's netlink handle for destinations the design
//     programs itself (the fabric only ever touches what it programmed).
//     e.fake, e.api (Compute clients against the fake), e.fwd (guests,
//     Namespace(name)), e.topo and e.printf are there to use.
//   - guest: what runs on each forwarder VM when it becomes RUNNING (see
//     guest); called once per incarnation.
//   - routeID: the instance id a route of the design's names carries (0:
//     the name carries none), so that the lab can tell which incarnation
//     a route in effect delivers to; ownsRoute: whether a route (name and
//     description) is the design's, for routes_left. A design whose
//     traffic does not go through GCE routes returns 0 and false.
//   - carrying: which member incarnations ("name#id") carry traffic now,
//     per network, for designs whose traffic bypasses the fake's routes
//     (nil: the fake's effective routes say it). The lab waits for every
//     member to carry on both networks before a scenario, and the first
//     time it sees an incarnation carrying is its time to routing.
//   - supports: whether the design has anything to say in a scenario (a
//     reconciler restart means nothing to a design without one).
//
// Checks: a baseline's checks are reported with vpclink's limits but are
// informational: its rows never make the run fail (see Report.OK); the
// comparison table puts its figures beside vpclink's.
type design interface {
	name() string
	group(o Options) groupSpec
	control(ctx context.Context, e *env) (stop func(), err error)
	guest(inst gcefake.Instance) guest
	routeID(route string) uint64
	ownsRoute(name, description string) bool
	carrying(e *env) map[string]map[string]bool
	supports(scenario string) bool
}

// rollingUpdater is a design with its own rolling update (the
// rolling-update scenario): a baseline's MIG update, a load balancer's
// drain through its health check. Without it, `vpclink rollout` runs.
type rollingUpdater interface {
	rollingUpdate(ctx context.Context, e *env, r *run) error
}

// groupSpec is what a design sets on the forwarder group.
type groupSpec struct {
	metadata     map[string]string
	autoHealing  *gcefake.AutoHealing
	updatePolicy *gcefake.UpdatePolicy
}

var (
	designsMu sync.Mutex
	designs   = map[string]func() design{}
)

// registerDesign makes a design selectable by its name.
func registerDesign(ctor func() design) {
	designsMu.Lock()
	defer designsMu.Unlock()
	designs[ctor().name()] = ctor
}

func newDesign(name string) (design, bool) {
	designsMu.Lock()
	defer designsMu.Unlock()
	ctor, ok := designs[name]
	if !ok {
		return nil, false
	}
	return ctor(), true
}

// DesignAll selects every design the lab implements.
const DesignAll = "all"

// ImplementedDesigns lists the designs the lab can run, in KnownDesigns'
// order.
func ImplementedDesigns() []string {
	designsMu.Lock()
	defer designsMu.Unlock()
	var out []string
	for _, n := range KnownDesigns {
		if designs[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

// ExpandDesigns turns --design values into the designs to run, in
// KnownDesigns' order without repeats: "all" is every implemented design.
func ExpandDesigns(names []string) ([]string, error) {
	want := map[string]bool{}
	for _, n := range names {
		if n == DesignAll {
			for _, d := range ImplementedDesigns() {
				want[d] = true
			}
			continue
		}
		want[n] = true
	}
	var out []string
	for _, n := range KnownDesigns {
		if want[n] {
			out = append(out, n)
			delete(want, n)
		}
	}
	for n := range want {
		out = append(out, n) // unknown: CheckDesigns names it
	}
	if err := CheckDesigns(out); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckDesigns reports an error for a design the lab cannot run.
func CheckDesigns(names []string) error {
	impl := ImplementedDesigns()
	for _, d := range names {
		switch {
		case slices.Contains(impl, d):
		case slices.Contains(KnownDesigns, d):
			return fmt.Errorf("design %q: not implemented in the lab yet (implemented: %s)", d, strings.Join(impl, ", "))
		default:
			return fmt.Errorf("design %q: unknown (known: %s, or %s)", d, strings.Join(KnownDesigns, ", "), DesignAll)
		}
	}
	return nil
}
