package traffic

import (
	"net"
	"sort"
	"sync"
	"time"
)

// NewFlows opens a new short-lived flow every interval: a fresh UDP socket
// (so a fresh source port, so a fresh multipath hash) sends one datagram
// to the echo server and waits up to timeout for the answer. Where a
// long-lived flow shows what happens to connections that exist, new flows
// show how soon a design sends new connections somewhere that answers: a
// load balancer does that within its health check, long before a route
// operation could.
type NewFlows struct {
	dial     func() (net.PacketConn, error) // a socket where the client lives
	dst      net.Addr
	interval time.Duration
	timeout  time.Duration
	stop     chan struct{}
	done     chan struct{}
	inflight sync.WaitGroup

	mu    sync.Mutex
	flows []Flow
}

// Flow is one short-lived flow: when it was sent and whether it was
// answered within the timeout.
type Flow struct {
	Sent     time.Time
	Answered bool
}

// StartNewFlows starts opening flows; dial creates each flow's socket.
func StartNewFlows(dial func() (net.PacketConn, error), dst net.Addr, interval, timeout time.Duration) *NewFlows {
	n := &NewFlows{dial: dial, dst: dst, interval: interval, timeout: timeout, stop: make(chan struct{}), done: make(chan struct{})}
	go n.run()
	return n
}

func (n *NewFlows) run() {
	defer close(n.done)
	t := time.NewTicker(n.interval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		n.inflight.Add(1)
		go func() {
			defer n.inflight.Done()
			f := n.exchange()
			n.mu.Lock()
			n.flows = append(n.flows, f)
			n.mu.Unlock()
		}()
	}
}

// exchange is one flow. A socket that cannot be opened or a send that
// fails (no route) is a flow without an answer like any other.
func (n *NewFlows) exchange() Flow {
	f := Flow{Sent: time.Now()}
	conn, err := n.dial()
	if err != nil {
		return f
	}
	defer conn.Close()
	if _, err := conn.WriteTo([]byte("new-flow"), n.dst); err != nil {
		return f
	}
	_ = conn.SetReadDeadline(f.Sent.Add(n.timeout))
	buf := make([]byte, 64)
	_, _, err = conn.ReadFrom(buf)
	f.Answered = err == nil
	return f
}

// Snapshot returns the flows finished so far.
func (n *NewFlows) Snapshot() NewFlowResult {
	n.mu.Lock()
	defer n.mu.Unlock()
	return MeasureNewFlows(n.flows, n.interval)
}

// Stop stops opening flows, waits for those in flight and returns the
// measurement.
func (n *NewFlows) Stop() NewFlowResult {
	close(n.stop)
	<-n.done
	n.inflight.Wait()
	return n.Snapshot()
}

// NewFlowResult is what the new flows measured. LongestGap is the longest
// window during which new flows got no answer: from the first unanswered
// flow to the last one of a run, where unanswered flows less than
// NewFlowJoin apart belong to one run, plus one interval. With flows spread
// over the forwarders by hash, the flows hashed to a failed forwarder fail
// in such a run while the others are answered: the run is how long new
// flows to it went unanswered.
type NewFlowResult struct {
	Opened, Unanswered int
	Interval           time.Duration
	LongestGap         time.Duration
	Gaps               []Outage // one per run, Lost = its unanswered flows
}

// NewFlowJoin joins unanswered flows into one run. At 20 flows a second over
// three forwarders, the chance that none of a second's flows hashes to a
// given forwarder is (2/3)^20, about 3 in 10,000.
const NewFlowJoin = time.Second

// MeasureNewFlows computes a NewFlowResult. Pure, so it is table-tested.
func MeasureNewFlows(flows []Flow, interval time.Duration) NewFlowResult {
	fs := append([]Flow(nil), flows...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Sent.Before(fs[j].Sent) })
	r := NewFlowResult{Opened: len(fs), Interval: interval}
	var cur *Outage
	flush := func() {
		if cur == nil {
			return
		}
		cur.End = cur.End.Add(interval)
		r.Gaps = append(r.Gaps, *cur)
		if d := cur.End.Sub(cur.Start); d > r.LongestGap {
			r.LongestGap = d
		}
		cur = nil
	}
	for _, f := range fs {
		if f.Answered {
			continue
		}
		r.Unanswered++
		if cur != nil && f.Sent.Sub(cur.End) > NewFlowJoin {
			flush()
		}
		if cur == nil {
			cur = &Outage{Start: f.Sent, End: f.Sent}
		}
		cur.End = f.Sent
		cur.Lost++
	}
	flush()
	return r
}
