package lab

import (
	"fmt"
	"net"
	"time"

	"github.com/vpclink/vpclink/internal/lab/traffic"
)

// Traffic settings. The UDP stream runs at 250 packets per second so that a
// 4 ms resolution is enough to see any outage; TCP flows send a message every
// 20 ms each way.
const (
	udpPort      = 7000
	tcpPort      = 7001
	udpRate      = 250
	tcpInterval  = 20 * time.Millisecond
	udpSettle    = 500 * time.Millisecond
	resumeWindow = time.Second
	// A new short-lived flow every 50 ms, answered within 1 s or counted
	// unanswered (the lab's round trip is well under a millisecond).
	newFlowInterval = 50 * time.Millisecond
	newFlowTimeout  = time.Second
)

// Load is the measured traffic between client and server: one UDP stream
// and n TCP flows, all through the forwarders.
type Load struct {
	udpServer net.PacketConn
	tcpServer net.Listener
	stream    *traffic.UDPStream
	flows     []*traffic.TCPFlow
	newFlows  *traffic.NewFlows
	Started   time.Time
}

// Measurement is what a Load measured.
type Measurement struct {
	UDP      traffic.UDPResult
	TCP      []traffic.TCPResult
	NewFlows traffic.NewFlowResult
}

// StartLoad starts the echo servers in the server namespace and the stream
// and flows in the client namespace. The TCP flows must connect, so the
// path must be routing when it is called.
func StartLoad(t Topology, flows int) (_ *Load, err error) {
	l := &Load{}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	err = InNamespace(t.Server(), func() error {
		var err error
		if l.udpServer, err = net.ListenPacket("udp4", net.JoinHostPort(ServerIP, fmt.Sprint(udpPort))); err != nil {
			return fmt.Errorf("udp echo: %w", err)
		}
		if l.tcpServer, err = net.Listen("tcp4", net.JoinHostPort(ServerIP, fmt.Sprint(tcpPort))); err != nil {
			return fmt.Errorf("tcp echo: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	go traffic.ServeUDPEcho(l.udpServer)
	go traffic.ServeTCPEcho(l.tcpServer)

	var client net.PacketConn
	var conns []net.Conn
	err = InNamespace(t.Client(), func() error {
		var err error
		if client, err = net.ListenPacket("udp4", ClientIP+":0"); err != nil {
			return fmt.Errorf("udp client: %w", err)
		}
		d := net.Dialer{Timeout: 5 * time.Second}
		for i := 0; i < flows; i++ {
			c, err := d.Dial("tcp4", net.JoinHostPort(ServerIP, fmt.Sprint(tcpPort)))
			if err != nil {
				for _, c := range conns {
					_ = c.Close()
				}
				_ = client.Close()
				return fmt.Errorf("tcp flow %d: %w", i, err)
			}
			conns = append(conns, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.Started = time.Now()
	l.stream = traffic.StartUDPStream(client, &net.UDPAddr{IP: net.ParseIP(ServerIP), Port: udpPort}, udpRate)
	for _, c := range conns {
		l.flows = append(l.flows, traffic.StartTCPFlow(c, tcpInterval))
	}
	dial := func() (pc net.PacketConn, err error) {
		err = InNamespace(t.Client(), func() error {
			pc, err = net.ListenPacket("udp4", ClientIP+":0")
			return err
		})
		return pc, err
	}
	l.newFlows = traffic.StartNewFlows(dial, &net.UDPAddr{IP: net.ParseIP(ServerIP), Port: udpPort}, newFlowInterval, newFlowTimeout)
	return l, nil
}

// Snapshot measures so far without stopping.
func (l *Load) Snapshot() Measurement {
	m := Measurement{UDP: l.stream.Snapshot(udpSettle), NewFlows: l.newFlows.Snapshot()}
	for _, f := range l.flows {
		m.TCP = append(m.TCP, f.Snapshot(resumeWindow))
	}
	return m
}

// Stop ends the traffic and returns the measurement of all of it.
func (l *Load) Stop() Measurement {
	var m Measurement
	for _, f := range l.flows {
		m.TCP = append(m.TCP, f.Stop(resumeWindow))
	}
	m.UDP = l.stream.Stop(udpSettle)
	m.NewFlows = l.newFlows.Stop()
	l.close()
	return m
}

func (l *Load) close() {
	if l.udpServer != nil {
		_ = l.udpServer.Close()
	}
	if l.tcpServer != nil {
		_ = l.tcpServer.Close()
	}
}

// WorstStall is the worst TCP stall across flows, and whether every flow
// resumed.
func (m Measurement) WorstStall() (time.Duration, bool) {
	var worst time.Duration
	all := true
	for _, r := range m.TCP {
		if r.WorstStall > worst {
			worst = r.WorstStall
		}
		if !r.Resumed {
			all = false
		}
	}
	return worst, all
}

// UDPSourcePort is the UDP stream's source port, which with the fixed
// addresses and destination port decides its multipath hash.
func (l *Load) UDPSourcePort() int {
	if a, ok := l.stream.LocalAddr().(*net.UDPAddr); ok {
		return a.Port
	}
	return 0
}
