package traffic

import (
	"fmt"
	"net"
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	t0 := time.Unix(1000, 0)
	iv := 10 * time.Millisecond
	sent := func(n int) []time.Time {
		var out []time.Time
		for i := 0; i < n; i++ {
			out = append(out, t0.Add(time.Duration(i)*iv))
		}
		return out
	}
	got := func(seqs ...int) map[uint64]bool {
		m := map[uint64]bool{}
		for _, s := range seqs {
			m[uint64(s)] = true
		}
		return m
	}
	cases := []struct {
		name    string
		n       int
		rcv     map[uint64]bool
		lost    int
		gap     time.Duration
		outages int
	}{
		{"all back", 5, got(0, 1, 2, 3, 4), 0, 0, 0},
		{"one lost", 5, got(0, 1, 3, 4), 1, 20 * time.Millisecond, 1},
		{"two outages, longest counts", 10, got(0, 2, 3, 7, 8, 9), 4, 40 * time.Millisecond, 2},
		{"trailing outage", 6, got(0, 1), 4, 40 * time.Millisecond, 1},
		{"leading outage", 6, got(4, 5), 4, 40 * time.Millisecond, 1},
		{"nothing back", 4, got(), 4, 30 * time.Millisecond, 1},
		{"nothing sent", 0, got(), 0, 0, 0},
	}
	for _, c := range cases {
		r := Measure(sent(c.n), c.rcv, iv)
		if r.Lost != c.lost || r.LongestGap != c.gap || len(r.Outages) != c.outages || r.Sent != c.n || r.Received != c.n-c.lost {
			t.Errorf("%s: lost %d gap %v outages %d sent %d received %d; want %d %v %d", c.name, r.Lost, r.LongestGap, len(r.Outages), r.Sent, r.Received, c.lost, c.gap, c.outages)
		}
	}
	// Recovery: the outage 30–60 ms ends when seq 7 comes back (70 ms).
	r := Measure(sent(10), got(0, 1, 2, 7, 8, 9), iv)
	if d := r.RecoveryAfter(t0.Add(50 * time.Millisecond)); d != 20*time.Millisecond {
		t.Errorf("recovery after 50 ms = %v, want 20ms", d)
	}
	if d := r.RecoveryAfter(t0.Add(80 * time.Millisecond)); d != 0 {
		t.Errorf("recovery after the outage = %v, want 0", d)
	}
}

// Delivered counts echoed packets per 100 ms of send time: 25 sends at 10 ms
// span three bins, and the lost ones leave their bins short.
func TestMeasureDelivered(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var sent []time.Time
	for i := 0; i < 25; i++ {
		sent = append(sent, t0.Add(time.Duration(i)*10*time.Millisecond))
	}
	rcv := map[uint64]bool{}
	for i := 0; i < 25; i++ {
		if i < 5 || i >= 12 { // 50–110 ms lost
			rcv[uint64(i)] = true
		}
	}
	r := Measure(sent, rcv, 10*time.Millisecond)
	if got, want := fmt.Sprint(r.Delivered), "[5 8 5]"; got != want || !r.Start.Equal(t0) {
		t.Errorf("delivered %s from %v, want %s from %v", got, r.Start, want, t0)
	}
	if r := Measure(nil, nil, time.Millisecond); r.Delivered != nil {
		t.Errorf("empty stream: delivered %v", r.Delivered)
	}
}

// The stream and flows on loopback: an echo server that answers everything
// leaves nothing lost and no stall.
func TestLoopbackEcho(t *testing.T) {
	srv, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ServeUDPEcho(srv)
	defer srv.Close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ServeTCPEcho(ln)
	defer ln.Close()

	cl, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := StartUDPStream(cl, srv.LocalAddr(), 200)
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f := StartTCPFlow(c, 20*time.Millisecond)
	time.Sleep(time.Second)
	tr := f.Stop(time.Second)
	ur := s.Stop(200 * time.Millisecond)
	if ur.Sent < 50 || ur.Lost != 0 {
		t.Errorf("udp: sent %d lost %d, want ≥50 sent and none lost", ur.Sent, ur.Lost)
	}
	if !tr.Resumed || tr.BytesRead == 0 || tr.Err != nil {
		t.Errorf("tcp: %+v, want bytes read, alive, no error", tr)
	}

	// A server that stops answering shows as a stall still going on.
	c2, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f2 := StartTCPFlow(c2, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	_ = ln.Close() // closes the accepted connections: the flow errors out
	time.Sleep(300 * time.Millisecond)
	r := f2.Stop(time.Second)
	if r.Resumed {
		t.Errorf("flow whose server went away: %+v, want not resumed", r)
	}
	// ... and its stall runs to the end of the measurement.
	if n := len(r.Stalls); n == 0 || r.Stalls[n-1].End.Sub(r.Stalls[n-1].Start) < 250*time.Millisecond {
		t.Errorf("flow whose server went away: stalls %v, want one of at least 250ms at the end", r.Stalls)
	}
	if len(tr.Stalls) != 0 {
		t.Errorf("healthy flow: stalls %v", tr.Stalls)
	}
}
