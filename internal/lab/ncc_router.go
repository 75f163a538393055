package lab

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// CloudRouter models one Cloud Router per VPC peering with every router
// appliance (every RUNNING member of the group) on the appliance's NIC in
// that VPC. A session is a TCP connection from the VPC's router namespace
// to the appliance's BGP port; keepalives are lines on it, answered by the
// appliance (ncc_guest.go), and the session state machine (ncc.go) decides
// when it is down. The learned routes are a RouteSource for the fabric:
// per VPC, the other VPC's range via each appliance whose session is up.
type CloudRouter struct {
	members     func() []gcefake.Instance
	keepalive   time.Duration
	propagation gcefake.Latency
	log         *zap.Logger

	mu    sync.Mutex
	rnd   *rand.Rand
	rib   nccRIB
	peers map[string]bool // network/address with a session loop running
	subs  map[chan struct{}]bool
	nets  []nccNetwork
}

// nccNetwork is one VPC's Cloud Router: where its sessions start and what
// its appliances advertise there.
type nccNetwork struct {
	name   string
	router string // namespace the router's sessions are opened from
	nic    int    // the appliance NIC in this VPC
	dest   string // the range the appliances advertise here
}

// NewCloudRouter returns the Cloud Routers of topology t. members lists
// the group's instances; propagation is the profile's delay from a BGP
// change to the VPC's data plane.
func NewCloudRouter(t Topology, members func() []gcefake.Instance, propagation gcefake.Latency, log *zap.Logger) *CloudRouter {
	return &CloudRouter{
		members: members, keepalive: nccKeepalive, propagation: propagation, log: log,
		rnd:   rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x6e6363)),
		peers: map[string]bool{}, subs: map[chan struct{}]bool{},
		nets: []nccNetwork{
			{name: NetworkA, router: t.VPCA(), nic: 0, dest: VPCBRange},
			{name: NetworkB, router: t.VPCB(), nic: 1, dest: VPCARange},
		},
	}
}

// Run keeps a session loop per appliance address until ctx ends.
func (c *CloudRouter) Run(ctx context.Context) {
	tick := time.NewTicker(nccConnectRetry)
	defer tick.Stop()
	for {
		for _, in := range c.members() {
			if in.Status != gcefake.StatusRunning {
				continue
			}
			for _, n := range c.nets {
				if n.nic >= len(in.NICs) {
					continue
				}
				addr := in.NICs[n.nic].IP
				peer := n.name + "/" + addr
				c.mu.Lock()
				running := c.peers[peer]
				c.peers[peer] = true
				c.mu.Unlock()
				if !running {
					go c.peerLoop(ctx, n, peer, addr)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// holder returns the member incarnation holding addr on NIC nic now, if it
// is RUNNING: the appliance a session to addr reaches.
func (c *CloudRouter) holder(nic int, addr string) (gcefake.Instance, bool) {
	for _, in := range c.members() {
		if in.Status == gcefake.StatusRunning && nic < len(in.NICs) && in.NICs[nic].IP == addr {
			return in, true
		}
	}
	return gcefake.Instance{}, false
}

// peerLoop dials the appliance at addr until no member holds it any more,
// and runs each session it gets.
func (c *CloudRouter) peerLoop(ctx context.Context, n nccNetwork, peer, addr string) {
	defer func() {
		c.mu.Lock()
		delete(c.peers, peer)
		c.mu.Unlock()
	}()
	for ctx.Err() == nil {
		in, ok := c.holder(n.nic, addr)
		if !ok {
			return
		}
		conn, err := dialIn(ctx, n.router, net.JoinHostPort(addr, strconv.Itoa(nccBGPPort)), nccConnectRetry)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(nccConnectRetry):
			}
			continue
		}
		c.session(ctx, n, peer, in, conn)
	}
}

// session runs one BGP session over conn: the appliance's routes are
// learned while it is up and withdrawn when it ends.
func (c *CloudRouter) session(ctx context.Context, n nccNetwork, peer string, in gcefake.Instance, conn net.Conn) {
	defer conn.Close()
	s := newBGPSession(c.keepalive)
	s.open(time.Now())
	route := FabricRoute{Network: n.name, DestRange: n.dest, Priority: nccRoutePriority, NextHop: in.NICs[n.nic].IP, Instance: incarnationOf(in)}
	c.change(peer, route, true)
	c.log.Info("bgp session up", zap.String("op", "bgp-session"), zap.String("network", n.name), zap.String("instance", route.Instance))

	heard := make(chan time.Time, 4)
	closed := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			heard <- time.Now()
		}
		why := "closed by the peer (NOTIFICATION)"
		if err := sc.Err(); err != nil {
			why = "connection: " + err.Error()
		}
		closed <- why
	}()
	send := time.NewTicker(c.keepalive)
	defer send.Stop()
	check := time.NewTicker(100 * time.Millisecond)
	defer check.Stop()
	write := func() {
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = conn.Write([]byte("KEEPALIVE\n"))
	}
	write()
	var why string
	for why == "" {
		select {
		case <-ctx.Done():
			why = "lab ends"
		case t := <-heard:
			s.heardAt(t)
		case w := <-closed:
			s.closed(w)
			why = w
		case <-send.C:
			write()
		case now := <-check.C:
			if s.tick(now) {
				why = s.downWhy
			}
		}
	}
	c.change(peer, route, false)
	c.log.Info("bgp session down", zap.String("op", "bgp-session"), zap.String("network", n.name), zap.String("instance", route.Instance), zap.String("reason", why))
}

// change records a learn or withdraw and wakes the subscribers when it
// reaches the data plane.
func (c *CloudRouter) change(peer string, route FabricRoute, on bool) {
	c.mu.Lock()
	delay := c.propagation.Draw(c.rnd)
	at := c.rib.change(peer, route, on, time.Now(), delay)
	c.mu.Unlock()
	time.AfterFunc(time.Until(at)+time.Millisecond, c.notify)
}

func (c *CloudRouter) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// EffectiveRoutes is the dynamic routes in the data plane now.
func (c *CloudRouter) EffectiveRoutes() []FabricRoute {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rib.effective(time.Now())
}

// Subscribe signals every change of EffectiveRoutes.
func (c *CloudRouter) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	c.subs[ch] = true
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

// dialIn opens a TCP connection to addr from namespace ns.
func dialIn(ctx context.Context, ns, addr string, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	err := InNamespace(ns, func() error {
		// No TCP keepalives: the hold timer alone notices a silent peer.
		d := net.Dialer{Timeout: timeout, KeepAlive: -1}
		var err error
		conn, err = d.DialContext(ctx, "tcp4", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bgp %s from %s: %w", addr, ns, err)
	}
	return conn, nil
}
