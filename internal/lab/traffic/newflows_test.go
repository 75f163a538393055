package traffic

import (
	"net"
	"testing"
	"time"
)

func TestMeasureNewFlows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	iv := 50 * time.Millisecond
	// flows at t0 + i*iv; fail lists the unanswered ones.
	flows := func(n int, fail ...int) []Flow {
		bad := map[int]bool{}
		for _, i := range fail {
			bad[i] = true
		}
		var out []Flow
		for i := n - 1; i >= 0; i-- { // unsorted on purpose
			out = append(out, Flow{Sent: t0.Add(time.Duration(i) * iv), Answered: !bad[i]})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		flows      []Flow
		unanswered int
		gap        time.Duration
		runs       int
	}{
		{"all answered", flows(10), 0, 0, 0},
		{"one lost", flows(10, 4), 1, iv, 1},
		// every third flow to the dead forwarder for 2 s: one run.
		{"a third lost for 2s", flows(100, 10, 13, 16, 19, 22, 25, 28, 31, 34, 37, 40, 43, 46, 49), 14, 39*iv + iv, 1},
		// two runs more than NewFlowJoin apart: the longer counts.
		{"two runs", flows(100, 2, 5, 60, 70, 80), 5, 20*iv + iv, 2},
		// 20 flows apart is exactly 1 s: still one run.
		{"joined at 1s", flows(100, 10, 30), 2, 20*iv + iv, 1},
	} {
		r := MeasureNewFlows(tc.flows, iv)
		if r.Unanswered != tc.unanswered || r.LongestGap != tc.gap || len(r.Gaps) != tc.runs || r.Opened != len(tc.flows) {
			t.Errorf("%s: unanswered %d gap %s runs %d opened %d; want %d %s %d %d", tc.name, r.Unanswered, r.LongestGap, len(r.Gaps), r.Opened, tc.unanswered, tc.gap, tc.runs, len(tc.flows))
		}
	}
}

// New flows on loopback: answered while the echo server runs, unanswered
// once it is gone, each from its own source port.
func TestNewFlowsOnLoopback(t *testing.T) {
	srv, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ports := map[int]bool{}
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			ports[from.(*net.UDPAddr).Port] = true
			_, _ = srv.WriteTo(buf[:n], from)
		}
	}()
	dial := func() (net.PacketConn, error) { return net.ListenPacket("udp4", "127.0.0.1:0") }
	nf := StartNewFlows(dial, srv.LocalAddr(), 20*time.Millisecond, 200*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	_ = srv.Close()
	time.Sleep(300 * time.Millisecond)
	r := nf.Stop()
	if r.Opened < 20 || r.Unanswered == 0 || r.Unanswered == r.Opened || len(r.Gaps) != 1 || r.LongestGap < 200*time.Millisecond {
		t.Fatalf("result %+v", r)
	}
	if len(ports) < 5 {
		t.Errorf("answered flows came from %d source ports, want one each", len(ports))
	}
}
