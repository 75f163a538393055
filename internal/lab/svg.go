package lab

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// The picture's geometry, in SVG user units (pixels at 100%).
const (
	svgWidth    = 1200
	svgLeft     = 190 // room for row labels
	svgRight    = 30
	svgUDPH     = 110
	svgRowH     = 13
	svgRouteH   = 17
	svgEventH   = 46
	svgGap      = 22
	svgFontSize = 11
)

// Colours: one meaning each, the legend says which.
const (
	colDelivered = "#3b75af"
	colStall     = "#d62728"
	colAction    = "#444444"
	colVerdict   = "#8e44ad"
	colInstance  = "#1f6f8b"
	colDelete    = "#e8a09a"
	colInsert    = "#9fd59f"
	colOther     = "#c8c8c8"
	colEffective = "#1b7f1b"
	colGone      = "#b22222"
	colFloor     = "#f5b041"
)

// SVG draws the timeline: delivered UDP packets per bin, TCP stalls per
// flow, lab actions and reconciler verdicts, and per route its operations
// (call to DONE) and the moments it took or left effect, on one time axis.
// Written by hand: a handful of rectangles, lines and text need no library.
func (tl Timeline) SVG() string {
	span := tl.End.Sub(tl.Start)
	if span <= 0 {
		span = time.Second
	}
	plotW := float64(svgWidth - svgLeft - svgRight)
	x := func(t time.Time) float64 {
		v := float64(svgLeft) + plotW*float64(t.Sub(tl.Start))/float64(span)
		return math.Max(svgLeft, math.Min(svgLeft+plotW, v))
	}
	var b strings.Builder
	y := 0.0
	body := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	// Heading.
	y += 22
	body(`<text x="12" y="%.0f" font-size="15" font-weight="bold">%s</text>`, y, esc(tl.Title))
	y += 16
	body(`<text x="12" y="%.0f" fill="#555">t = 0 s at %s UTC; one column per %s</text>`, y, tl.Start.UTC().Format("15:04:05.000"), tl.Bin)
	y += 14
	top := y

	// UDP: delivered packets per bin.
	y += 8
	udpTop := y
	full := float64(max(tl.FullBin, 1))
	body(`<text x="12" y="%.0f">UDP delivered</text>`, udpTop+12)
	body(`<text x="12" y="%.0f" fill="#555">per %s (full: %d)</text>`, udpTop+26, tl.Bin, tl.FullBin)
	body(`<rect x="%d" y="%.0f" width="%.0f" height="%d" fill="#f4f6f8"/>`, svgLeft, udpTop, plotW, svgUDPH)
	if f := tl.Floor; f != nil {
		body(`<rect x="%.1f" y="%.0f" width="%.1f" height="%d" fill="%s" fill-opacity="0.35"/>`, x(f.Start), udpTop, x(f.End)-x(f.Start), svgUDPH, colFloor)
		body(`<text x="%.1f" y="%.0f" fill="#9a5d00">%s</text>`, x(f.Start)+3, udpTop+12, esc(f.Label))
	}
	barW := math.Max(plotW*float64(tl.Bin)/float64(span), 0.5)
	for i, n := range tl.Delivered {
		if n == 0 {
			continue
		}
		h := float64(svgUDPH) * math.Min(float64(n)/full, 1.15) / 1.15
		bx := x(tl.UDPStart.Add(time.Duration(i) * tl.Bin))
		body(`<rect x="%.1f" y="%.1f" width="%.2f" height="%.1f" fill="%s"/>`, bx, udpTop+svgUDPH-h, barW, h, colDelivered)
	}
	fullY := udpTop + svgUDPH - float64(svgUDPH)/1.15
	body(`<line x1="%d" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#888" stroke-dasharray="3,3"/>`, svgLeft, fullY, svgLeft+plotW, fullY)
	if g := tl.Gap; g != nil {
		body(`<rect x="%.1f" y="%.0f" width="%.1f" height="%d" fill="none" stroke="%s" stroke-width="1.5"/>`, x(g.Start), udpTop+svgUDPH-30, x(g.End)-x(g.Start), 30, colStall)
		body(`<text x="%.1f" y="%.0f" fill="%s">%s</text>`, x(g.Start)+3, udpTop+svgUDPH-18, colStall, esc(g.Label))
	}
	y = udpTop + svgUDPH + svgGap

	// TCP: one row per flow, its stalls in red.
	tcpTop := y
	body(`<text x="12" y="%.0f">TCP stalls</text>`, tcpTop+10)
	body(`<text x="12" y="%.0f" fill="#555">≥ 200 ms, no echo</text>`, tcpTop+24)
	for i, stalls := range tl.Stalls {
		ry := tcpTop + float64(i*svgRowH)
		body(`<rect x="%d" y="%.0f" width="%.0f" height="%d" fill="#eef5ee"/>`, svgLeft, ry+1, plotW, svgRowH-2)
		body(`<text x="%d" y="%.0f" text-anchor="end" fill="#555">flow %d</text>`, svgLeft-6, ry+svgRowH-3, i+1)
		for _, s := range stalls {
			body(`<rect x="%.1f" y="%.0f" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`, x(s.Start), ry+1, math.Max(x(s.End)-x(s.Start), 1), svgRowH-2, colStall, esc(fmt.Sprintf("stall %.2fs", s.End.Sub(s.Start).Seconds())))
		}
	}
	y = tcpTop + float64(max(len(tl.Stalls), 1)*svgRowH) + svgGap

	// Events: the lab's actions, then the reconciler's verdicts, labels
	// staggered so neighbours stay legible.
	lanes := []struct{ kind, name, colour string }{{EventAction, "lab", colAction}, {EventInstance, "instances", colInstance}, {EventVerdict, "reconciler verdicts", colVerdict}}
	for _, lane := range lanes {
		laneTop := y
		body(`<text x="12" y="%.0f">%s</text>`, laneTop+14, lane.name)
		body(`<line x1="%d" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#ddd"/>`, svgLeft, laneTop+svgEventH-6, svgLeft+plotW, laneTop+svgEventH-6)
		var rows labelRows
		for _, ev := range tl.Events {
			if ev.Kind != lane.kind || ev.At.Before(tl.Start) || ev.At.After(tl.End) {
				continue
			}
			ex := x(ev.At)
			text := seconds(ev.At.Sub(tl.Start)) + " " + ev.Label
			w := textWidth(text)
			anchor, from := "start", ex
			if ex+w > svgLeft+plotW {
				anchor, from = "end", ex-w
			}
			ly := laneTop + 11 + float64(rows.place(from, from+w))*12
			body(`<path d="M%.1f,%.0f l-4,-7 h8 z" fill="%s"/>`, ex, laneTop+svgEventH-6, lane.colour)
			body(`<text x="%.1f" y="%.0f" fill="%s" text-anchor="%s">%s</text>`, ex, ly, lane.colour, anchor, esc(text))
		}
		y = laneTop + svgEventH + 4
	}
	y += svgGap - 4

	// Routes: per route, each operation from its call to DONE, then the
	// moment the data plane took (●) or dropped (✕) the route.
	routesTop := y
	body(`<text x="12" y="%.0f">route operations</text>`, routesTop-6)
	for i, r := range tl.Routes {
		ry := routesTop + float64(i*svgRouteH)
		body(`<text x="%d" y="%.0f" text-anchor="end" fill="#333">%s</text>`, svgLeft-6, ry+svgRouteH-5, esc(r.Label))
		body(`<line x1="%d" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#eee"/>`, svgLeft, ry+svgRouteH/2, svgLeft+plotW, ry+svgRouteH/2)
		for _, op := range r.Ops {
			done := op.Done
			if done.IsZero() {
				done = tl.End
			}
			col := colOther
			switch {
			case strings.HasSuffix(op.Method, ".delete"):
				col = colDelete
			case strings.HasSuffix(op.Method, ".insert"):
				col = colInsert
			}
			title := fmt.Sprintf("%s issued %s, DONE %s", op.Method, seconds(op.Issued.Sub(tl.Start)), seconds(done.Sub(tl.Start)))
			if op.Error != "" {
				title += ": " + op.Error
			}
			body(`<rect x="%.1f" y="%.0f" width="%.1f" height="%d" fill="%s" stroke="#777" stroke-width="0.5"><title>%s</title></rect>`, x(op.Issued), ry+3, math.Max(x(done)-x(op.Issued), 1.5), svgRouteH-6, col, esc(title))
			if !op.Done.IsZero() {
				body(`<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#222" stroke-width="1.5"/>`, x(done), ry+1, x(done), ry+svgRouteH-1)
			}
		}
		for _, c := range r.Changes {
			cx, cy := x(c.At), ry+svgRouteH/2
			if c.Effective {
				body(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`, cx, cy, colEffective)
			} else {
				body(`<path d="M%.1f,%.1f l8,8 m0,-8 l-8,8" stroke="%s" stroke-width="2"/>`, cx-4, cy-4, colGone)
			}
		}
	}
	if len(tl.Routes) == 0 {
		body(`<text x="%d" y="%.0f" fill="#777">no route operation in this window</text>`, svgLeft, routesTop+12)
	}
	y = routesTop + float64(max(len(tl.Routes), 1)*svgRouteH) + 8
	bottom := y

	// Vertical guides through every panel for each event, then the axis.
	for _, ev := range tl.Events {
		// Guests come and go often (a rollout): their lane is enough.
		if ev.At.Before(tl.Start) || ev.At.After(tl.End) || ev.Kind == EventInstance {
			continue
		}
		col := colAction
		if ev.Kind == EventVerdict {
			col = colVerdict
		}
		body(`<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="%s" stroke-opacity="0.45" stroke-dasharray="4,3"/>`, x(ev.At), top, x(ev.At), bottom, col)
	}
	step := tickStep(span)
	body(`<line x1="%d" y1="%.0f" x2="%.0f" y2="%.0f" stroke="#333"/>`, svgLeft, bottom, svgLeft+plotW, bottom)
	for t := time.Duration(0); t <= span; t += step {
		tx := x(tl.Start.Add(t))
		body(`<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#333"/>`, tx, bottom, tx, bottom+5)
		body(`<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, tx, bottom+17, seconds(t))
	}
	y = bottom + 38

	// Legend.
	legend := []struct{ shape, text string }{
		{fmt.Sprintf(`<rect width="10" height="10" fill="%s"/>`, colDelivered), "UDP delivered"},
		{fmt.Sprintf(`<rect width="10" height="10" fill="%s"/>`, colStall), "TCP stall / longest UDP gap"},
		{fmt.Sprintf(`<rect width="10" height="10" fill="%s" fill-opacity="0.5"/>`, colFloor), "floor: detection + delete + propagation"},
		{fmt.Sprintf(`<rect width="10" height="10" fill="%s" stroke="#777"/>`, colDelete), "delete: call to DONE (│)"},
		{fmt.Sprintf(`<rect width="10" height="10" fill="%s" stroke="#777"/>`, colInsert), "insert"},
		{fmt.Sprintf(`<circle cx="5" cy="5" r="4" fill="%s"/>`, colEffective), "route in effect"},
		{fmt.Sprintf(`<path d="M1,1 l8,8 m0,-8 l-8,8" stroke="%s" stroke-width="2"/>`, colGone), "route out of effect"},
	}
	lx := 12.0
	for _, l := range legend {
		body(`<g transform="translate(%.0f,%.0f)">%s<text x="14" y="9">%s</text></g>`, lx, y-9, l.shape, esc(l.text))
		lx += 24 + textWidth(l.text)
	}
	height := y + 12

	var out strings.Builder
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%.0f" viewBox="0 0 %d %.0f" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="%d">`+"\n", svgWidth, height, svgWidth, height, svgFontSize)
	fmt.Fprintf(&out, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	out.WriteString(b.String())
	out.WriteString("</svg>\n")
	return out.String()
}

// labelRows places event labels on three rows, each label on the first row
// where it does not overlap the one before it.
type labelRows [3]float64 // right end of the last label on each row

// place returns the row for a label spanning [from, to] and takes it; when
// every row is taken there, the row that frees up first.
func (r *labelRows) place(from, to float64) int {
	best := 0
	for i := range r {
		if r[i] == 0 || r[i]+4 <= from {
			r[i] = to
			return i
		}
		if r[i] < r[best] {
			best = i
		}
	}
	r[best] = to
	return best
}

// textWidth estimates the width of text at the picture's font size.
func textWidth(s string) float64 { return 6.2 * float64(len([]rune(s))) }

// tickStep picks an axis step giving at most about 15 ticks.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute} {
		if span/s <= 15 {
			return s
		}
	}
	return 10 * time.Minute
}

// seconds writes d as seconds with one decimal: "12.3s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func esc(s string) string { return html.EscapeString(s) }
