// Package traffic generates the lab's measured traffic: one sequence-numbered
// UDP stream echoed by the server, and long-lived TCP echo flows. It knows
// nothing of namespaces: callers hand it sockets already created where they
// belong, which keeps it testable on loopback.
//
// Measures, as the earlier system's acceptance criteria count them:
//   - lost packets: sent sequence numbers whose echo never came back;
//   - longest gap: the longest span of send time between two consecutive
//     echoed packets (so a gap is the outage seen by the sender, independent
//     of reordering), including a trailing outage that lasts until Stop;
//   - per TCP flow, the worst stall: the longest time between two reads of
//     echoed bytes, including a stall still going on at Stop.
package traffic

import (
	"encoding/binary"
	"errors"
	"net"
	"sort"
	"sync"
	"time"
)

// ServeUDPEcho echoes every datagram on conn back to its sender until conn is
// closed.
func ServeUDPEcho(conn net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		_, _ = conn.WriteTo(buf[:n], from)
	}
}

// UDPStream sends sequence-numbered datagrams at a fixed rate and records the
// echoes.
type UDPStream struct {
	conn     net.PacketConn
	dst      net.Addr
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}

	mu       sync.Mutex
	sentAt   []time.Time // index = sequence number
	received map[uint64]bool
}

// StartUDPStream starts sending rate datagrams per second from conn to dst.
func StartUDPStream(conn net.PacketConn, dst net.Addr, rate int) *UDPStream {
	if rate <= 0 {
		rate = 200
	}
	s := &UDPStream{
		conn:     conn,
		dst:      dst,
		interval: time.Second / time.Duration(rate),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		received: map[uint64]bool{},
	}
	go s.receive()
	go s.send()
	return s
}

// Interval is the time between two sends.
func (s *UDPStream) Interval() time.Duration { return s.interval }

func (s *UDPStream) send() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	buf := make([]byte, 64)
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		seq := uint64(len(s.sentAt))
		s.sentAt = append(s.sentAt, time.Now())
		s.mu.Unlock()
		binary.BigEndian.PutUint64(buf, seq)
		// An error (no route: ICMP unreachable) is a lost packet like any
		// other; the stream keeps its rate.
		_, _ = s.conn.WriteTo(buf, s.dst)
	}
}

func (s *UDPStream) receive() {
	buf := make([]byte, 2048)
	for {
		n, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n < 8 {
			continue
		}
		seq := binary.BigEndian.Uint64(buf)
		s.mu.Lock()
		if seq < uint64(len(s.sentAt)) {
			s.received[seq] = true
		}
		s.mu.Unlock()
	}
}

// Snapshot measures what happened so far, counting only packets sent at
// least settle ago (younger ones may still be on their way).
func (s *UDPStream) Snapshot(settle time.Duration) UDPResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := time.Now().Add(-settle)
	n := sort.Search(len(s.sentAt), func(i int) bool { return s.sentAt[i].After(cut) })
	return Measure(s.sentAt[:n], s.received, s.interval)
}

// Stop stops sending, waits settle for the last echoes, closes the socket
// and returns the measurement of the whole stream.
func (s *UDPStream) Stop(settle time.Duration) UDPResult {
	close(s.stop)
	<-s.done
	time.Sleep(settle)
	_ = s.conn.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return Measure(s.sentAt, s.received, s.interval)
}

// UDPResult is the measurement of a stream.
type UDPResult struct {
	Sent, Received, Lost int
	Interval             time.Duration
	// Start is the send time of the first packet; Delivered counts, per
	// DeliveryBin of send time from Start, the packets whose echo came
	// back: the stream as a timeline picture shows it.
	Start     time.Time
	Delivered []int
	// LongestGap is the longest outage in send time: between two
	// consecutive echoed packets, or from the last echoed one to the end.
	LongestGap time.Duration
	Outages    []Outage
}

// DeliveryBin is the resolution of UDPResult.Delivered: a tenth of a second
// holds 25 packets at the lab's rate, enough to see a partial outage.
const DeliveryBin = 100 * time.Millisecond

// Outage is a run of lost packets: Start is the send time of the first lost
// one, End the send time of the next packet that came back (or of the last
// packet sent, when none did).
type Outage struct {
	Start, End time.Time
	Lost       int
}

// Measure computes a UDPResult from the send times (index = sequence number)
// and the set of echoed sequence numbers. Pure, so it is table-tested.
func Measure(sentAt []time.Time, received map[uint64]bool, interval time.Duration) UDPResult {
	r := UDPResult{Sent: len(sentAt), Interval: interval}
	if len(sentAt) > 0 {
		r.Start = sentAt[0]
		r.Delivered = make([]int, int(sentAt[len(sentAt)-1].Sub(r.Start)/DeliveryBin)+1)
	}
	var lastOK = -1
	var cur *Outage
	for i, at := range sentAt {
		if received[uint64(i)] {
			r.Received++
			r.Delivered[int(at.Sub(r.Start)/DeliveryBin)]++
			from := sentAt[0] // an outage from the very start counts from it
			if lastOK >= 0 {
				from = sentAt[lastOK]
			}
			if gap := at.Sub(from); gap > r.LongestGap {
				r.LongestGap = gap
			}
			if cur != nil {
				cur.End = at
				r.Outages = append(r.Outages, *cur)
				cur = nil
			}
			lastOK = i
			continue
		}
		r.Lost++
		if cur == nil {
			cur = &Outage{Start: at}
		}
		cur.Lost++
	}
	if cur != nil {
		last := sentAt[len(sentAt)-1]
		cur.End = last
		r.Outages = append(r.Outages, *cur)
		from := cur.Start
		if lastOK >= 0 {
			from = sentAt[lastOK]
		}
		if gap := last.Sub(from); gap > r.LongestGap {
			r.LongestGap = gap
		}
	}
	// A steady stream has gaps of one interval: that is no outage.
	if r.Lost == 0 {
		r.LongestGap = 0
	}
	return r
}

// RecoveryAfter is how long after t the stream came back: the end of the
// last outage that was still going on at t or began after it, minus t.
// Zero when no packet sent after t was lost.
func (r UDPResult) RecoveryAfter(t time.Time) time.Duration {
	var rec time.Duration
	for _, o := range r.Outages {
		if o.End.After(t) {
			if d := o.End.Sub(t); d > rec {
				rec = d
			}
		}
	}
	return rec
}

// LocalAddr is the stream's source address.
func (s *UDPStream) LocalAddr() net.Addr { return s.conn.LocalAddr() }
