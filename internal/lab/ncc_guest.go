package lab

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// nccGuest is a router appliance as the lab runs it: a Linux router whose
// BGP speaker peers with each VPC's Cloud Router and installs what it
// learns.
//   - Data plane: ip_forward, rp_filter=0, and the route to VPC B's range
//     via nic1's gateway, which the speaker learns from VPC B's Cloud
//     Router. A routing daemon (FRR's zebra, BIRD) installs learned routes
//     again when their next hop becomes reachable after a link or address
//     change; the lab's guest re-asserts the route every
//     nccRouteRefresh (choice: no published figure; zebra reacts to the
//     kernel's link events within milliseconds). VPC A's side needs
//     nothing: the guest's default route already leaves by nic0.
//   - Sessions: it accepts the Cloud Routers' connections on port 179 on
//     every address and answers each keepalive line.
//   - Clean stop: the speaker closes its sessions (NOTIFICATION Cease) and
//     stops accepting, then the VM goes on forwarding for the shutdown
//     grace before it stops. The grace is the profile's drain grace, the
//     time vpclink's agent gets to keep forwarding after its withdraw, so
//     that neither design is handed a longer shutdown.
type nccGuest struct {
	ns    string
	inst  gcefake.Instance
	grace time.Duration
	h     *netlink.Handle
	route *netlink.Route

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
	cancel context.CancelFunc
}

// nccRouteRefresh is how often the guest's routing daemon re-asserts its
// learned route.
const nccRouteRefresh = 250 * time.Millisecond

// startNCCGuest boots the appliance in namespace ns.
func startNCCGuest(ns string, inst gcefake.Instance, grace time.Duration) (*nccGuest, error) {
	nic1, err := nicOf(inst, 1)
	if err != nil {
		return nil, err
	}
	for _, kv := range [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
		{"net.ipv4.conf.nic0.rp_filter", "0"},
		{"net.ipv4.conf.nic1.rp_filter", "0"},
	} {
		if err := sysctl(ns, kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("ncc guest %s: %w", inst.Name, err)
		}
	}
	h, err := handleIn(ns)
	if err != nil {
		return nil, fmt.Errorf("ncc guest %s: %w", inst.Name, err)
	}
	_, dst, _ := net.ParseCIDR(VPCBRange)
	g := &nccGuest{ns: ns, inst: inst, grace: grace, h: h, conns: map[net.Conn]bool{},
		route: &netlink.Route{Dst: dst, Gw: net.ParseIP(nic1.Gateway)}}
	err = InNamespace(ns, func() error {
		var err error
		g.ln, err = net.Listen("tcp4", ":"+strconv.Itoa(nccBGPPort))
		return err
	})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("ncc guest %s: bgp listener: %w", inst.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go g.keepRoute(ctx)
	go g.accept(g.ln)
	return g, nil
}

// keepRoute is the routing daemon: the learned route, again and again.
func (g *nccGuest) keepRoute(ctx context.Context) {
	t := time.NewTicker(nccRouteRefresh)
	defer t.Stop()
	for {
		// Fails while nic1 has no address: the next round retries.
		_ = g.h.RouteReplace(g.route)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *nccGuest) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		if g.conns == nil { // stopped
			g.mu.Unlock()
			_ = c.Close()
			return
		}
		g.conns[c] = true
		g.mu.Unlock()
		go func() {
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				_, _ = c.Write([]byte("KEEPALIVE\n"))
			}
			_ = c.Close()
			g.mu.Lock()
			delete(g.conns, c)
			g.mu.Unlock()
		}()
	}
}

// closeSessions ends every session and stops accepting new ones.
func (g *nccGuest) closeSessions() {
	g.mu.Lock()
	ln, conns := g.ln, g.conns
	g.ln, g.conns = nil, nil
	g.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	for c := range conns {
		_ = c.Close()
	}
}

// Shutdown is a clean stop: sessions closed at once, forwarding for the
// grace, then nothing. ctx is the instance's shutdown budget.
func (g *nccGuest) Shutdown(ctx context.Context) {
	g.closeSessions()
	select {
	case <-ctx.Done():
	case <-time.After(g.grace):
	}
	g.Kill()
}

// Kill ends whatever still runs.
func (g *nccGuest) Kill() {
	g.closeSessions()
	g.mu.Lock()
	cancel := g.cancel
	g.cancel = nil
	g.mu.Unlock()
	if cancel != nil {
		cancel()
		g.h.Close()
	}
}
