package lab

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ilbTestNet is a router between a client and two backends, each of which
// owns the server address itself: which backend answers shows where the
// router sent a flow.
type ilbTestNet struct {
	prefix   string
	backends []string // namespaces
	ips      []string // their addresses on the router's bridge
}

const ilbTestServer = "10.19.16.45"

func newILBTestNet(t *testing.T) *ilbTestNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces and programs nftables")
	}
	if testing.Short() {
		t.Skip("namespace test: the full tier runs it")
	}
	n := &ilbTestNet{prefix: fmt.Sprintf("vlt-%d-", os.Getpid())}
	topo := Topology{Prefix: n.prefix}
	t.Cleanup(func() { _ = topo.Teardown() })
	client, router := n.prefix+"client", n.prefix+"router"
	steps := [][]string{
		{"netns", "add", client}, {"netns", "add", router},
		{"-n", router, "link", "add", "client", "type", "veth", "peer", "name", "eth0", "netns", client},
		{"-n", router, "addr", "add", "10.0.0.1/24", "dev", "client"},
		{"-n", router, "link", "set", "client", "up"},
		{"-n", client, "addr", "add", "10.0.0.6/24", "dev", "eth0"},
		{"-n", client, "link", "set", "eth0", "up"},
		{"-n", client, "link", "set", "lo", "up"},
		{"-n", client, "route", "add", "default", "via", "10.0.0.1"},
		{"-n", router, "link", "add", "fwd", "type", "bridge"},
		{"-n", router, "addr", "add", "10.0.1.1/24", "dev", "fwd"},
		{"-n", router, "link", "set", "fwd", "up"},
	}
	for i := range 2 {
		b, ip := fmt.Sprintf("%sb%d", n.prefix, i), fmt.Sprintf("10.0.1.%d", 2+i)
		n.backends, n.ips = append(n.backends, b), append(n.ips, ip)
		steps = append(steps,
			[]string{"netns", "add", b},
			[]string{"-n", b, "link", "add", "eth0", "type", "veth", "peer", "name", fmt.Sprintf("b%d", i), "netns", router},
			[]string{"-n", router, "link", "set", fmt.Sprintf("b%d", i), "master", "fwd", "up"},
			[]string{"-n", b, "addr", "add", ip + "/24", "dev", "eth0"},
			[]string{"-n", b, "link", "set", "eth0", "up"},
			[]string{"-n", b, "link", "set", "lo", "up"},
			[]string{"-n", b, "addr", "add", ilbTestServer + "/32", "dev", "lo"},
			[]string{"-n", b, "route", "add", "default", "via", "10.0.1.1"})
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			t.Fatal(err)
		}
	}
	if err := sysctl(router, "net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	return n
}

// serve runs a UDP echo that answers with the backend's index, and a TCP
// server that does the same on every line, in every backend.
func (n *ilbTestNet) serve(t *testing.T) {
	for i, b := range n.backends {
		var pc net.PacketConn
		var ln net.Listener
		err := InNamespace(b, func() error {
			var err error
			if pc, err = net.ListenPacket("udp4", ilbTestServer+":7000"); err != nil {
				return err
			}
			ln, err = net.Listen("tcp4", ilbTestServer+":7001")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close(); ln.Close() })
		go func() {
			buf := make([]byte, 64)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo([]byte{byte('0' + i)}, from)
			}
		}()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					r := bufio.NewReader(c)
					for {
						if _, err := r.ReadString('\n'); err != nil {
							return
						}
						if _, err := fmt.Fprintf(c, "%d\n", i); err != nil {
							return
						}
					}
				}()
			}
		}()
	}
}

// udpFrom asks from local port sport which backend answers; -1: none.
func (n *ilbTestNet) udpFrom(t *testing.T, sport int) int {
	t.Helper()
	var c net.PacketConn
	if err := InNamespace(n.prefix+"client", func() error {
		var err error
		c, err = net.ListenPacket("udp4", fmt.Sprintf("10.0.0.6:%d", sport))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.ParseIP(ilbTestServer), Port: 7000}
	buf := make([]byte, 8)
	for range 3 {
		_, _ = c.WriteTo([]byte("?"), to)
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if k, _, err := c.ReadFrom(buf); err == nil && k == 1 {
			return int(buf[0] - '0')
		}
	}
	return -1
}

func TestILBRouterFlows(t *testing.T) {
	n := newILBTestNet(t)
	n.serve(t)
	r, err := newILBRouter(n.prefix+"router", "10.19.16.0/20", "fwd")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	backends := []ilbBackend{{Key: "b0", IP: n.ips[0], Mark: 0x101, Healthy: true}, {Key: "b1", IP: n.ips[1], Mark: 0x102, Healthy: true}}
	apply := func() {
		t.Helper()
		if err := r.apply(planILB(backends)); err != nil {
			t.Fatal(err)
		}
		if err := r.apply(planILB(backends)); err != nil { // repeatable
			t.Fatal(err)
		}
	}
	apply()

	// New flows spread over both healthy backends by their 5-tuple.
	seen := map[int]int{}
	for p := 40000; p < 40016; p++ {
		seen[n.udpFrom(t, p)]++
	}
	if seen[0] == 0 || seen[1] == 0 || seen[-1] > 0 {
		t.Fatalf("16 new UDP flows answered by backend: %v; want both, and every flow answered", seen)
	}

	// An established TCP connection and its backend.
	var conn net.Conn
	if err := InNamespace(n.prefix+"client", func() error {
		var err error
		conn, err = net.DialTimeout("tcp4", ilbTestServer+":7001", 2*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	ask := func() (string, error) {
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := fmt.Fprintln(conn, "?"); err != nil {
			return "", err
		}
		return rd.ReadString('\n')
	}
	first, err := ask()
	if err != nil {
		t.Fatal(err)
	}
	x := int(first[0] - '0')
	other := 1 - x
	local := conn.LocalAddr().(*net.TCPAddr)
	if m, err := r.flowMark(local.IP, uint16(local.Port), net.ParseIP(ilbTestServer), 7001, unix.IPPROTO_TCP); err != nil || m != backends[x].Mark {
		t.Errorf("flow table: TCP connection marked %#x, %v; want backend %d's %#x", m, err, x, backends[x].Mark)
	}
	var udpOnX int
	for p := 40000; p < 40016; p++ {
		if n.udpFrom(t, p) == x {
			udpOnX = p
			break
		}
	}

	// x turns unhealthy: its TCP connection stays, its UDP flow moves, and
	// new flows avoid it.
	backends[x].Healthy = false
	apply()
	if got, err := ask(); err != nil || got != first {
		t.Fatalf("established TCP after its backend turned unhealthy: %q, %v; want %q (it persists)", got, err, first)
	}
	if got := n.udpFrom(t, udpOnX); got != other {
		t.Errorf("UDP flow of an unhealthy backend answered by %d, want %d (UDP does not persist)", got, other)
	}
	for p := 41000; p < 41008; p++ {
		if got := n.udpFrom(t, p); got != other {
			t.Errorf("new UDP flow from %d answered by %d, want the healthy %d", p, got, other)
		}
	}

	// x is removed: its TCP connection is sent to the other backend, which
	// knows nothing of it and resets it (a forwarder would carry it on).
	backends = []ilbBackend{backends[other]}
	apply()
	if got, err := ask(); err == nil {
		t.Fatalf("TCP of a removed backend still answered by %q; want it moved (and reset by a backend that has no socket)", got)
	}
}

// TestILBRouterAllUnhealthy: with no backend passing, all take traffic.
func TestILBRouterAllUnhealthy(t *testing.T) {
	n := newILBTestNet(t)
	n.serve(t)
	r, err := newILBRouter(n.prefix+"router", "10.19.16.0/20", "fwd")
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	if err := r.apply(planILB([]ilbBackend{{IP: n.ips[0], Mark: 0x101}, {IP: n.ips[1], Mark: 0x102}})); err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for p := 42000; p < 42016; p++ {
		seen[n.udpFrom(t, p)]++
	}
	if seen[0] == 0 || seen[1] == 0 {
		t.Fatalf("all backends unhealthy, flows answered by %v; want both (last resort)", seen)
	}
	if err := r.apply(ilbPlan{}); err != nil {
		t.Fatal(err)
	}
	if got := n.udpFrom(t, 42100); got != -1 {
		t.Fatalf("no backends, yet answered by %d", got)
	}
}
