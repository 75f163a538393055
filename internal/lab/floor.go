package lab

import (
	"fmt"
	"time"
)

// FloorInput is what an unplanned failure's floor is computed from: when
// it happened, the detection time vpclink is configured for, when the API
// accepts writes again (zero: at once), the routes whose removal ends the
// outage, and what the fake recorded of their operations and effect.
type FloorInput struct {
	Failure   time.Time
	Detection time.Duration
	Blocked   time.Time
	Routes    []string
	Ops       map[string][]OpSpan      // by route
	Changes   map[string][]RouteChange // by route
}

// FloorPart is one route's share: the delete that removed it and the
// propagation after its DONE.
type FloorPart struct {
	Route       string
	Delete      OpSpan
	Propagation time.Duration
	Floor       time.Duration
}

// Floor is what physics and GCE force on an unplanned failure, measured
// against the very operations of the run: the configured detection time
// (or the wait for the API to accept writes, when that is longer), plus the
// latency of the delete that removed the route, plus the propagation until
// the data plane dropped it. The outage ends when the last of the routes
// carrying the traffic is gone, so the floor is the largest route's. An
// error names a route no successful delete removed: then there is no floor,
// and the scenario has failed in a way its other checks show.
func Floor(in FloorInput) (time.Duration, []FloorPart, error) {
	wait := in.Detection
	if b := in.Blocked.Sub(in.Failure); b > wait {
		wait = b
	}
	var worst time.Duration
	var parts []FloorPart
	for _, route := range in.Routes {
		del, ok := removingDelete(in.Ops[route], in.Failure)
		if !ok {
			return 0, parts, fmt.Errorf("route %s: no successful delete after the failure", route)
		}
		var prop time.Duration
		for _, c := range in.Changes[route] {
			if !c.Effective && !c.At.Before(del.Done) {
				prop = c.At.Sub(del.Done)
				break
			}
		}
		p := FloorPart{Route: route, Delete: del, Propagation: prop, Floor: wait + del.Done.Sub(del.Issued) + prop}
		parts = append(parts, p)
		worst = max(worst, p.Floor)
	}
	if len(in.Routes) == 0 {
		return 0, nil, fmt.Errorf("no route carried the traffic")
	}
	return worst, parts, nil
}

// removingDelete is the first routes.delete issued after t that ended DONE
// without an error: the one that removed the route.
func removingDelete(ops []OpSpan, t time.Time) (OpSpan, bool) {
	for _, op := range ops {
		if op.Method == methodRouteDelete && !op.Issued.Before(t) && !op.Done.IsZero() && op.Error == "" {
			return op, true
		}
	}
	return OpSpan{}, false
}

// Compute API methods as the fake's operation log names them.
const (
	methodRouteDelete = "routes.delete"
	methodRouteInsert = "routes.insert"
)
