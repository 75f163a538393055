package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// picture draws the run's timeline next to the report: an SVG, and a PNG
// where rsvg-convert (Debian's librsvg2-bin) is installed.
func (e *env) picture(r *run, m Measurement, end time.Time, rec record, obs Observation) {
	if e.opts.Pictures == "" {
		return
	}
	title := fmt.Sprintf("%s · %s · profile %s · operations %s · propagation %s", r.sc.name, e.design.name(), e.opts.Profile, e.opLatency, e.opts.Propagation)
	tl := NewTimeline(title, r.start, end, m)
	tl.Events = append(tl.Events, r.events...)
	tl.Events = append(tl.Events, e.fwd.History(r.start, end)...)
	tl.Events = append(tl.Events, e.verdicts(r.start, end)...)
	tl.AddRouteActivity(rec.ops, rec.changes, e.routeLabel)
	if f := r.failure; f != nil && obs.FloorErr == nil {
		tl.Floor = &Span{Start: f.at, End: f.at.Add(obs.Floor), Label: "floor " + seconds(obs.Floor)}
	}
	if g, ok := longestOutage(m); ok {
		label := "longest gap " + seconds(m.UDP.LongestGap)
		if r.failure != nil && obs.FloorErr == nil {
			label += fmt.Sprintf(" (overhead %+.1fs)", (m.UDP.LongestGap - obs.Floor).Seconds())
		}
		tl.Gap = &Span{Start: g.Start, End: g.End, Label: label}
	}
	base := fmt.Sprintf("%s-%s-%s", e.opts.Pictures, r.sc.name, fileSafe(e.opLatency.String()))
	// The designs of one scenario and latency stack one above another, in
	// the order they ran: the file is rewritten after each.
	if e.pictures == nil {
		e.pictures = map[string][]string{}
	}
	e.pictures[base] = append(e.pictures[base], tl.SVG())
	svg, err := StackSVG(e.pictures[base])
	if err != nil {
		e.printf("%s: timeline: %v", r.sc.name, err)
		return
	}
	if err := os.WriteFile(base+".svg", []byte(svg), 0o644); err != nil {
		e.printf("%s: timeline: %v", r.sc.name, err)
		return
	}
	msg := base + ".svg"
	if png, err := toPNG(base); err == nil {
		msg += ", " + png
	}
	e.printf("%s: timeline %s", r.sc.name, msg)
}

// longestOutage returns the UDP outage behind the longest gap: from the
// last packet delivered before it to the first one after.
func longestOutage(m Measurement) (Span, bool) {
	var best Span
	for _, o := range m.UDP.Outages {
		s := Span{Start: o.Start.Add(-m.UDP.Interval), End: o.End}
		if s.End.Sub(s.Start) > best.End.Sub(best.Start) {
			best = s
		}
	}
	return best, !best.Start.IsZero()
}

// toPNG converts base.svg to base.png with rsvg-convert, when installed.
func toPNG(base string) (string, error) {
	tool, err := exec.LookPath("rsvg-convert")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := base + ".png"
	if b, err := exec.CommandContext(ctx, tool, "-o", out, base+".svg").CombinedOutput(); err != nil {
		return "", fmt.Errorf("rsvg-convert: %w: %s", err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// fileSafe turns a latency such as 5s..20s into 5s-20s for a file name.
func fileSafe(s string) string { return strings.ReplaceAll(s, "..", "-") }
