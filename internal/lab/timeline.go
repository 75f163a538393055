package lab

import (
	"sort"
	"time"

	"github.com/vpclink/vpclink/internal/lab/traffic"
)

// Timeline is one scenario run on one time axis, for its picture: the UDP
// stream's delivered packets per bin, the TCP flows' stalls, what the lab
// did, what the reconciler decided, and every route operation with the
// moment its route took or left effect in the data plane.
type Timeline struct {
	Title     string
	Start     time.Time // t = 0: the scenario's start
	End       time.Time
	Bin       time.Duration
	UDPStart  time.Time // the stream's first packet
	Delivered []int     // UDP packets delivered per Bin of send time, from UDPStart
	FullBin   int       // packets per Bin at the stream's full rate
	Stalls    [][]traffic.Stall
	Events    []Event    // lab actions and reconciler verdicts
	Routes    []RouteRow // one row per route an operation touched
	// Floor and Gap, when the scenario has an unplanned failure: the floor
	// from the failure's start, and the longest UDP gap as measured.
	Floor *Span
	Gap   *Span
}

// Event is a point on the timeline.
type Event struct {
	At    time.Time
	Kind  string // EventAction, EventInstance or EventVerdict
	Label string
	id    uint64 // the incarnation a verdict is about
}

// Event kinds: what the lab did (panic, resize, nic1 down, ...), guests
// starting and stopping (the group's doing), and the reconciler's verdict
// changes.
const (
	EventAction   = "action"
	EventInstance = "instance"
	EventVerdict  = "verdict"
)

// Span is a stretch of time.
type Span struct {
	Start, End time.Time
	Label      string
}

// RouteRow is one route's operations and effective changes.
type RouteRow struct {
	Label   string // instance and network, for people
	Ops     []OpSpan
	Changes []RouteChange
}

// OpSpan is one operation from its call to DONE (a zero Done: not DONE
// when the scenario ended).
type OpSpan struct {
	Method string // routes.insert, routes.delete
	Issued time.Time
	Done   time.Time
	Error  string
}

// RouteChange is a route starting (Effective) or stopping to carry traffic.
type RouteChange struct {
	At        time.Time
	Effective bool
}

// NewTimeline lays a measurement out between start and end. The stream's
// rate gives the full bin.
func NewTimeline(title string, start, end time.Time, m Measurement) Timeline {
	tl := Timeline{Title: title, Start: start, End: end, Bin: traffic.DeliveryBin, UDPStart: m.UDP.Start, Delivered: m.UDP.Delivered}
	if m.UDP.Interval > 0 {
		tl.FullBin = int(traffic.DeliveryBin / m.UDP.Interval)
	}
	for _, f := range m.TCP {
		tl.Stalls = append(tl.Stalls, f.Stalls)
	}
	return tl
}

// AddRouteActivity adds the operations and effective changes within the
// timeline's window to one row per route, labelled by label (routes it
// returns "" for are left out), rows in order of first activity.
func (tl *Timeline) AddRouteActivity(ops map[string][]OpSpan, changes map[string][]RouteChange, label func(route string) string) {
	in := func(t time.Time) bool { return !t.Before(tl.Start) && !t.After(tl.End) }
	first := map[string]time.Time{}
	rows := map[string]*RouteRow{}
	row := func(route string, at time.Time) *RouteRow {
		r := rows[route]
		if r == nil {
			r = &RouteRow{Label: label(route)}
			rows[route] = r
		}
		if f, ok := first[route]; !ok || at.Before(f) {
			first[route] = at
		}
		return r
	}
	for route, spans := range ops {
		if label(route) == "" {
			continue
		}
		for _, s := range spans {
			if in(s.Issued) || (!s.Done.IsZero() && in(s.Done)) {
				r := row(route, s.Issued)
				r.Ops = append(r.Ops, s)
			}
		}
	}
	for route, cs := range changes {
		if label(route) == "" {
			continue
		}
		for _, c := range cs {
			if in(c.At) {
				r := row(route, c.At)
				r.Changes = append(r.Changes, c)
			}
		}
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := first[names[i]], first[names[j]]
		if !a.Equal(b) {
			return a.Before(b)
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		tl.Routes = append(tl.Routes, *rows[n])
	}
}
