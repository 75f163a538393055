package traffic

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// ServeTCPEcho accepts connections on ln and echoes each one's bytes back
// until ln is closed; then it closes the connections it accepted.
func ServeTCPEcho(ln net.Listener) {
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// TCPFlow is one long-lived connection carrying a message every interval in
// each direction (client to server, and the echo back).
type TCPFlow struct {
	conn     net.Conn
	interval time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup

	mu        sync.Mutex
	start     time.Time
	lastRead  time.Time
	worst     time.Duration
	stalls    []Stall
	bytesRead int64
	err       error
}

// Stall is a span without echoed bytes on a flow, from the last read before
// it to the first read after it (or to the end of the measurement).
type Stall struct {
	Start, End time.Time
}

// StallMin is the shortest span a flow's Stalls list: ten messages missed.
// Shorter pauses are scheduling noise; WorstStall still counts them.
const StallMin = 200 * time.Millisecond

// StartTCPFlow starts writing a 64-byte message every interval on conn and
// timing the echoes.
func StartTCPFlow(conn net.Conn, interval time.Duration) *TCPFlow {
	now := time.Now()
	f := &TCPFlow{conn: conn, interval: interval, stop: make(chan struct{}), start: now, lastRead: now}
	f.wg.Add(2)
	go f.write()
	go f.read()
	return f
}

func (f *TCPFlow) write() {
	defer f.wg.Done()
	t := time.NewTicker(f.interval)
	defer t.Stop()
	msg := make([]byte, 64)
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		if _, err := f.conn.Write(msg); err != nil {
			f.fail(err)
			return
		}
	}
}

func (f *TCPFlow) read() {
	defer f.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := f.conn.Read(buf)
		if n > 0 {
			now := time.Now()
			f.mu.Lock()
			gap := now.Sub(f.lastRead)
			if gap > f.worst {
				f.worst = gap
			}
			if gap >= StallMin {
				f.stalls = append(f.stalls, Stall{Start: f.lastRead, End: now})
			}
			f.lastRead = now
			f.bytesRead += int64(n)
			f.mu.Unlock()
		}
		if err != nil {
			f.fail(err)
			return
		}
	}
}

func (f *TCPFlow) fail(err error) {
	select {
	case <-f.stop:
		return // our own Close
	default:
	}
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

// TCPResult is the measurement of one flow.
type TCPResult struct {
	// WorstStall is the longest time without echoed bytes, a stall still
	// going on at the end included.
	WorstStall time.Duration
	// Resumed reports whether the flow was alive at the end: no error, and
	// echoed bytes within resumeWindow before it.
	Resumed   bool
	BytesRead int64
	Err       error
	// Stalls are the spans of at least StallMin without echoed bytes, in
	// order, one still going on at the end included.
	Stalls []Stall
}

// Snapshot measures the flow so far without stopping it.
func (f *TCPFlow) Snapshot(resumeWindow time.Duration) TCPResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.result(time.Now(), resumeWindow)
}

func (f *TCPFlow) result(now time.Time, resumeWindow time.Duration) TCPResult {
	r := TCPResult{WorstStall: f.worst, BytesRead: f.bytesRead, Err: f.err}
	r.Stalls = append([]Stall(nil), f.stalls...)
	tail := now.Sub(f.lastRead)
	if tail > r.WorstStall {
		r.WorstStall = tail
	}
	if tail >= StallMin {
		r.Stalls = append(r.Stalls, Stall{Start: f.lastRead, End: now})
	}
	r.Resumed = f.err == nil && tail <= resumeWindow
	return r
}

// Stop measures the flow and closes it.
func (f *TCPFlow) Stop(resumeWindow time.Duration) TCPResult {
	r := f.Snapshot(resumeWindow)
	close(f.stop)
	_ = f.conn.Close()
	f.wg.Wait()
	return r
}
