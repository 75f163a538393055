package lab

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/lab/traffic"
)

// sampleTimeline is a panic as the lab records one: 30 s of traffic, a
// 12.4 s outage, the verdict, the delete and its route leaving the fabric.
func sampleTimeline() Timeline {
	t0 := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var delivered []int
	for i := 0; i < 300; i++ {
		n := 25
		if i >= 40 && i < 164 {
			n = 17 // a third of the flows hashed to the dead forwarder
			if i >= 40 && i < 164 {
				n = 0
			}
		}
		delivered = append(delivered, n)
	}
	tl := Timeline{Title: "panic · vpclink · op latency 5s..20s", Start: t0, End: at(30), Bin: traffic.DeliveryBin, UDPStart: t0, Delivered: delivered, FullBin: 25}
	for i := 0; i < 8; i++ {
		var s []traffic.Stall
		if i%3 == 0 {
			s = append(s, traffic.Stall{Start: at(4), End: at(4 + 12.4 + float64(i))})
		}
		tl.Stalls = append(tl.Stalls, s)
	}
	tl.Events = []Event{
		{At: at(4), Kind: EventAction, Label: "panic fwd-x2kd"},
		{At: at(7.1), Kind: EventVerdict, Label: "fwd-x2kd Unhealthy"},
		{At: at(24), Kind: EventInstance, Label: "fwd-q9aa …4411 running"},
	}
	tl.Floor = &Span{Start: at(4), End: at(4 + 11.9), Label: "floor 11.9s"}
	tl.Gap = &Span{Start: at(4), End: at(16.4), Label: "gap 12.4s (+0.5s)"}
	ops := map[string][]OpSpan{
		"vpclink-1-a": {{Method: "routes.delete", Issued: at(7.2), Done: at(15.3)}},
		"vpclink-1-b": {{Method: "routes.delete", Issued: at(7.2), Done: at(18.0)}},
		"vpclink-2-a": {{Method: "routes.insert", Issued: at(26), Done: at(29)}},
		"other":       {{Method: "routes.insert", Issued: at(1), Done: at(2)}},
	}
	changes := map[string][]RouteChange{
		"vpclink-1-a": {{At: at(16.4)}},
		"vpclink-1-b": {{At: at(19.8)}},
		"vpclink-2-a": {{At: at(31), Effective: true}}, // after the window
	}
	tl.AddRouteActivity(ops, changes, func(r string) string {
		if r == "other" {
			return ""
		}
		return map[string]string{"vpclink-1-a": "fwd-x2kd vpc-a", "vpclink-1-b": "fwd-x2kd vpc-b", "vpclink-2-a": "fwd-q9aa vpc-a"}[r]
	})
	return tl
}

func TestTimelineRoutes(t *testing.T) {
	tl := sampleTimeline()
	var labels []string
	for _, r := range tl.Routes {
		labels = append(labels, r.Label)
	}
	// Rows in order of first activity; routes without a label and changes
	// outside the window are left out.
	if got := strings.Join(labels, ","); got != "fwd-x2kd vpc-a,fwd-x2kd vpc-b,fwd-q9aa vpc-a" {
		t.Errorf("rows %s", got)
	}
	if n := len(tl.Routes[2].Changes); n != 0 {
		t.Errorf("change after the window kept: %v", tl.Routes[2].Changes)
	}
}

// The picture is well-formed XML with every event, row and the floor named.
func TestTimelineSVG(t *testing.T) {
	svg := sampleTimeline().SVG()
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
	}
	for _, want := range []string{"panic fwd-x2kd", "fwd-x2kd Unhealthy", "fwd-q9aa …4411 running", "fwd-x2kd vpc-b", "floor 11.9s", "gap 12.4s (+0.5s)", "routes.delete issued 7.2s, DONE 18.0s", "flow 8", "30.0s"} {
		if !strings.Contains(svg, want) {
			t.Errorf("picture lacks %q", want)
		}
	}
}

// Event labels that would overlap go to different rows; one that clears the
// last label on the first row goes back there.
func TestLabelRows(t *testing.T) {
	var r labelRows
	got := []int{r.place(0, 100), r.place(50, 150), r.place(90, 200), r.place(120, 180), r.place(300, 400)}
	if fmt.Sprint(got) != "[0 1 2 0 0]" {
		t.Errorf("rows %v, want [0 1 2 0 0]", got)
	}
}

// Two timelines stacked: one picture as tall as both, the second placed
// below the first, each still whole.
func TestStackSVG(t *testing.T) {
	a := `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="300" viewBox="0 0 900 300"><text>a</text></svg>`
	b := `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="200" viewBox="0 0 900 200"><text>b</text></svg>`
	out, err := StackSVG([]string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`width="900" height="500"`, `<svg x="0" y="0" xmlns`, `<svg x="0" y="300" xmlns`, "<text>a</text>", "<text>b</text>"} {
		if !strings.Contains(out, want) {
			t.Errorf("stacked picture lacks %q:\n%s", want, out)
		}
	}
	if _, err := StackSVG([]string{"<g/>"}); err == nil {
		t.Error("a picture without a root svg element stacked")
	}
}
