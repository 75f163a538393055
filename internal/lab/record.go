package lab

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// record is what the fake GCE logged, by route: every route operation and
// every change of a route's effect in the data plane.
type record struct {
	ops     map[string][]OpSpan      // route name -> operations in the order issued
	changes map[string][]RouteChange // route name -> effect changes in order
}

// record reads the fake's operation and effective-route logs.
func (e *env) record() record {
	rec := record{ops: map[string][]OpSpan{}, changes: map[string][]RouteChange{}}
	for _, op := range e.fake.OperationLog() {
		if !strings.HasPrefix(op.Method, "routes.") {
			continue
		}
		rec.ops[op.Target] = append(rec.ops[op.Target], OpSpan{Method: op.Method, Issued: op.Issued, Done: op.Done, Error: op.Error})
	}
	for _, c := range e.fake.EffectiveLog() {
		rec.changes[c.Route] = append(rec.changes[c.Route], RouteChange{At: c.At, Effective: c.Effective})
	}
	for _, ops := range rec.ops {
		sort.SliceStable(ops, func(i, j int) bool { return ops[i].Issued.Before(ops[j].Issued) })
	}
	return rec
}

// healthyPruned counts the routes of forwarders the scenario did not
// disturb (members at its start, still the same incarnation at its end, not
// a victim) that a delete removed during the scenario.
func (e *env) healthyPruned(r *run, rec record) int {
	now := map[instanceid.ID]bool{}
	for _, m := range e.members() {
		now[instanceid.ID(m.ID)] = true
	}
	n := 0
	for route, ops := range rec.ops {
		p, err := naming.ParseName(RoutePrefix, route)
		if err != nil || r.members[p.InstanceID] == "" || !now[p.InstanceID] || r.disturbed[p.InstanceID] {
			continue
		}
		for _, op := range ops {
			if op.Method == methodRouteDelete && !op.Issued.Before(r.start) && op.Error == "" {
				e.printf("%s: route %s of undisturbed %s deleted %s after the start", r.sc.name, route, r.members[p.InstanceID], op.Issued.Sub(r.start).Round(time.Millisecond))
				n++
				break
			}
		}
	}
	return n
}

// routeLabel names an owned route for people: its instance with the last
// digits of the incarnation's id (a recreate keeps the name) and its
// network; "" for a route vpclink does not own. A baseline's routes are
// labelled with their names.
func (e *env) routeLabel(route string) string {
	if !e.isVPCLink() {
		// A baseline's routes are named after their instance
		// (<instance>-<n>, <instance>-<id>-<n>): the name says it all.
		if strings.HasPrefix(route, GroupName+"-") {
			return route
		}
		return ""
	}
	p, err := naming.ParseName(RoutePrefix, route)
	if err != nil {
		return ""
	}
	name := incarnation(e.fwd.NameOf(uint64(p.InstanceID)), uint64(p.InstanceID))
	for _, n := range []struct{ network, dest string }{{NetworkA, VPCBRange}, {NetworkB, VPCARange}} {
		if naming.RouteName(RoutePrefix, p.InstanceID, Project, n.network, n.dest) == route {
			return name + " " + n.network
		}
	}
	return name + " " + route
}

// seenHealthy reports whether a reconciler has logged incarnation id's
// verdict turning healthy since since.
func (e *env) seenHealthy(id uint64, since time.Time) bool {
	name := e.fwd.NameOf(id)
	for _, ev := range e.verdicts(since, time.Now()) {
		if strings.EqualFold(ev.Label, name+" healthy") && ev.id == id {
			return true
		}
	}
	return false
}

// verdicts reads the reconcilers' verdict changes between from and to from
// their logs, labelled with the instance's name.
func (e *env) verdicts(from, to time.Time) []Event {
	paths, _ := filepath.Glob(filepath.Join(e.opts.LogDir, "reconciler-*.log"))
	var out []Event
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
		for sc.Scan() {
			if !strings.Contains(sc.Text(), "verdict changed") {
				continue
			}
			var line struct {
				Time       time.Time `json:"time"`
				InstanceID string    `json:"instanceId"`
				To         string    `json:"to"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Time.Before(from) || line.Time.After(to) {
				continue
			}
			name := line.InstanceID
			if id, err := instanceid.Parse(line.InstanceID); err == nil {
				if n := e.fwd.NameOf(uint64(id)); n != "" {
					name = n
				}
			}
			ev := Event{At: line.Time, Kind: EventVerdict, Label: name + " " + line.To}
			if id, err := instanceid.Parse(line.InstanceID); err == nil {
				ev.id = uint64(id)
			}
			out = append(out, ev)
		}
		_ = f.Close()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// mutations counts the successful route deletes, and all inserts plus
// deletes, issued between from and to: in a scenario where nothing dies,
// each one is churn.
func (rec record) mutations(from, to time.Time) (deletes, churn int) {
	for _, ops := range rec.ops {
		for _, op := range ops {
			if op.Issued.Before(from) || op.Issued.After(to) {
				continue
			}
			switch op.Method {
			case methodRouteDelete:
				churn++
				if op.Error == "" {
					deletes++
				}
			case methodRouteInsert:
				churn++
			}
		}
	}
	return deletes, churn
}
