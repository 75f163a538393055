package dataplane

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/vpclink/vpclink/internal/kernel/kerneltest"
)

// TestForwardingEndToEnd sends real UDP through the forwarder:
//
//		client 10.0.0.6 ──c0── eth0 [fwd] eth1 ──b0── vpcb router ──b1── server 10.19.16.45, 10.20.0.9
//		       └──────────── cp ── "peering" link ── bp ┘
//
//	  - via:   client → 10.19.16.45 through nic0, forwarding, the main-table
//	    via route out nic1; the reply back through nic1 and nic0.
//	  - rp:    client → 10.20.0.9 over the peering link (not the forwarder);
//	    the reply returns through the forwarder, arriving on nic1 from a source
//	    the forwarder has no route back to on nic1: only rp_filter=0 lets it
//	    through (the field report's "martian source 10.0.0.6 from …").
//	  - rt1:   server 10.20.0.9 → the forwarder's nic1 address: the reply,
//	    from the nic1 address, has only the rule and rt1 to leave by.
//
// Each must work with the keeper's data plane, fail when someone breaks the
// piece it depends on while no keeper runs, and work again after a keeper
// repaired it.
func TestForwardingEndToEnd(t *testing.T) {
	b := newBed(t, true)
	client, router := b.vpca, b.vpcb
	server := kerneltest.NewNS(t, "srv")
	kerneltest.Veth(t, router, "b1", server, "s0")
	kerneltest.Veth(t, client, "cp", router, "bp")
	for _, ns := range []*kerneltest.NS{client, router, server} {
		ns.Sysctl(t, "net.ipv4.conf.all.rp_filter", "0")
		ns.Sysctl(t, "net.ipv4.conf.default.rp_filter", "0")
	}
	for _, dev := range []string{"c0", "cp"} {
		client.Sysctl(t, "net.ipv4.conf."+dev+".rp_filter", "0")
	}
	for _, dev := range []string{"b0", "b1", "bp"} {
		router.Sysctl(t, "net.ipv4.conf."+dev+".rp_filter", "0")
	}
	router.Sysctl(t, "net.ipv4.ip_forward", "1")
	client.IP(t, "addr", "add", "192.168.77.1/30", "dev", "cp")
	client.IP(t, "route", "add", "10.19.16.0/20", "via", "10.0.0.2")
	client.IP(t, "route", "add", "10.20.0.0/16", "via", "192.168.77.2")
	router.IP(t, "addr", "add", "10.19.16.1/24", "dev", "b1")
	router.IP(t, "addr", "add", "192.168.77.2/30", "dev", "bp")
	router.IP(t, "route", "add", "10.0.0.0/16", "via", "10.0.3.35")
	router.IP(t, "route", "add", "10.20.0.9/32", "via", "10.19.16.45")
	server.IP(t, "addr", "add", "10.19.16.45/24", "dev", "s0")
	server.IP(t, "addr", "add", "10.20.0.9/32", "dev", "s0")
	server.IP(t, "route", "add", "default", "via", "10.19.16.1")

	echo(t, server, "10.19.16.45:7000")
	echo(t, server, "10.20.0.9:7000")
	echo(t, b.fwd, "10.0.3.35:7000")
	paths := map[string]func() error{
		"via": func() error { return roundTrip(client, "10.0.0.6", "10.19.16.45:7000") },
		"rp":  func() error { return roundTrip(client, "10.0.0.6", "10.20.0.9:7000") },
		"rt1": func() error { return roundTrip(server, "10.20.0.9", "10.0.3.35:7000") },
	}
	expect := func(phase string, working ...string) {
		t.Helper()
		for name, try := range paths {
			err := try()
			want := strings.Contains(" "+strings.Join(working, " ")+" ", " "+name+" ")
			if want && err != nil {
				t.Errorf("%s: path %s broken: %v", phase, name, err)
			}
			if !want && err == nil {
				t.Errorf("%s: path %s works, but it should not", phase, name)
			}
		}
	}

	expect("before any keeper (fresh VM: forwarding off)")
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	expect("keeper ready", "via", "rp", "rt1")

	b.stop() // the data plane stays
	expect("keeper stopped", "via", "rp", "rt1")
	b.fwd.Sysctl(t, "net.ipv4.conf.eth1.rp_filter", "1")
	expect("rp_filter=1 forced", "via", "rt1")
	b.fwd.IP(t, "route", "flush", "table", "1")
	expect("rt1 flushed too", "via")

	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	expect("new keeper repaired", "via", "rp", "rt1")

	// While the keeper runs, the break does not last.
	b.fwd.Sysctl(t, "net.ipv4.conf.eth1.rp_filter", "1")
	b.waitFor(t, "rp_filter repaired", func() bool {
		r := b.keeper.State().LastRepair
		return r != nil && r.Cause != CauseStartup && b.fwd.ReadSysctl(t, "net.ipv4.conf.eth1.rp_filter") == "0"
	})
	b.waitReady(t, wantLines("10.0.3.35"))
	expect("running keeper repaired", "via", "rp", "rt1")
}

// inNS runs fn on a thread inside ns; sockets it opens stay in ns.
func inNS(ns *kerneltest.NS, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := netns.Set(ns.Handle); err != nil {
			done <- err
			return
		}
		done <- fn()
	}()
	return <-done
}

// echo serves UDP echo on addr inside ns until the test ends.
func echo(t *testing.T, ns *kerneltest.NS, addr string) {
	t.Helper()
	var conn *net.UDPConn
	err := inNS(ns, func() (err error) {
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(mustAddrPort(addr)))
		return err
	})
	if err != nil {
		t.Fatalf("echo on %s in %s: %v", addr, ns.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = conn.WriteToUDP(buf[:n], from)
		}
	}()
}

// roundTrip sends from src in ns to dst and waits for the echo, three tries
// of 300 ms each.
func roundTrip(ns *kerneltest.NS, src, dst string) error {
	var conn *net.UDPConn
	if err := inNS(ns, func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)})
		return err
	}); err != nil {
		return err
	}
	defer conn.Close()
	to := net.UDPAddrFromAddrPort(mustAddrPort(dst))
	msg := []byte(fmt.Sprintf("vpclink %s->%s", src, dst))
	buf := make([]byte, 1500)
	var last error
	for range 3 {
		if _, err := conn.WriteToUDP(msg, to); err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			last = err
			continue
		}
		if from.String() != dst || !bytes.Equal(buf[:n], msg) {
			last = fmt.Errorf("reply from %s: %q", from, buf[:n])
			continue
		}
		return nil
	}
	return errors.Join(errors.New("no echo"), last)
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
