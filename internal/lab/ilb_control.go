package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// ilbCheckerB is the traffic check's source address in VPC B. GCE's
// checkers come from 35.191.0.0/16; VPC A's router already holds
// healthCheckerGW from that range (its link to mgmt), VPC B's router gets
// this one on its loopback while the ilb design runs, so that a backend
// answers VPC B's check through its own nic1 routing, as in GCE.
const ilbCheckerB = "35.191.0.9"

// ilbNetwork is one VPC's load balancer: where it runs, what its route
// covers and which NIC of a backend it checks and sends to.
type ilbNetwork struct {
	name    string // network
	router  string // namespace
	dest    string // the range of its route
	nic     int    // the backends' NIC in this network
	checker string // the health checks' source address in the router
}

// ILB models the ilb design's two internal passthrough load balancers (one
// per VPC) over the group's members: it health-checks every member on the
// NIC of each network, and programs each VPC router so that flows go where
// GCE's load balancer would send them (ilb.go).
type ILB struct {
	members func() []gcefake.Instance // the group's members as GCE holds them
	log     *zap.Logger
	vpcb    string // VPC B's router, which holds ilbCheckerB

	mu       sync.Mutex
	lbs      []*ilbLB
	lastMark uint32
	changes  []FabricChange       // for timelines: a network's backend set changed
	first    map[string]time.Time // incarnation -> first healthy on every network
}

// ilbLB is the state of one load balancer.
type ilbLB struct {
	net      ilbNetwork
	router   *ilbRouter
	checks   map[string]*ilbCheck // incarnation -> traffic check
	backends map[string]ilbBackend
	probing  map[string]bool
	plan     ilbPlan
}

// NewILB builds the load balancers of topology t. members lists the
// group's instances (any status); only RUNNING ones are backends.
func NewILB(t Topology, members func() []gcefake.Instance, log *zap.Logger) (*ILB, error) {
	l := &ILB{members: members, log: log, vpcb: t.VPCB(), first: map[string]time.Time{}}
	if err := ip("-n", t.VPCB(), "addr", "replace", ilbCheckerB+"/32", "dev", "lo"); err != nil {
		return nil, fmt.Errorf("ilb: checker address in %s: %w", t.VPCB(), err)
	}
	for _, n := range []ilbNetwork{
		{name: NetworkA, router: t.VPCA(), dest: VPCBRange, nic: 0, checker: healthCheckerGW},
		{name: NetworkB, router: t.VPCB(), dest: VPCARange, nic: 1, checker: ilbCheckerB},
	} {
		r, err := newILBRouter(n.router, n.dest, "fwd")
		if err != nil {
			l.Close()
			return nil, err
		}
		l.lbs = append(l.lbs, &ilbLB{net: n, router: r, checks: map[string]*ilbCheck{}, backends: map[string]ilbBackend{}, probing: map[string]bool{}})
	}
	return l, nil
}

// Run checks and programs until ctx ends. Membership is read every 200 ms
// (a backend the MIG removes leaves at once: no draining), health checks
// run every ilbCheckInterval.
func (l *ILB) Run(ctx context.Context) {
	check := time.NewTicker(ilbCheckInterval)
	defer check.Stop()
	member := time.NewTicker(200 * time.Millisecond)
	defer member.Stop()
	l.sync()
	for {
		select {
		case <-ctx.Done():
			return
		case <-member.C:
			l.sync()
		case <-check.C:
			l.probeAll(ctx)
		}
	}
}

// sync follows membership: RUNNING members are backends, others are gone.
func (l *ILB) sync() {
	running := map[string]gcefake.Instance{}
	for _, in := range l.members() {
		if in.Status == gcefake.StatusRunning {
			running[incarnationOf(in)] = in
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	inUse := map[uint32]bool{}
	for _, lb := range l.lbs {
		for _, b := range lb.backends {
			inUse[b.Mark] = true
		}
	}
	for _, lb := range l.lbs {
		changed := false
		for key, in := range running {
			if _, ok := lb.backends[key]; ok || lb.net.nic >= len(in.NICs) {
				continue
			}
			m, err := nextMark(l.lastMark, inUse)
			if err != nil {
				l.log.Error("ilb backend not added", zap.String("op", "ilb-backend"), zap.String("instance", key), zap.Error(err))
				continue
			}
			l.lastMark, inUse[m] = m, true
			lb.backends[key] = ilbBackend{Key: key, IP: in.NICs[lb.net.nic].IP, Mark: m}
			lb.checks[key] = &ilbCheck{}
			changed = true
		}
		for key := range lb.backends {
			if _, ok := running[key]; !ok {
				delete(lb.backends, key)
				delete(lb.checks, key)
				changed = true
				l.log.Info("ilb backend removed", zap.String("op", "ilb-backend"), zap.String("network", lb.net.name), zap.String("instance", key))
			}
		}
		if changed {
			l.programLocked(lb)
		}
	}
}

// programLocked applies lb's plan to its router if it changed.
func (l *ILB) programLocked(lb *ilbLB) {
	var bs []ilbBackend
	for _, b := range lb.backends {
		b.Healthy = lb.checks[b.Key].healthy
		bs = append(bs, b)
	}
	p := planILB(bs)
	if err := lb.router.apply(p); err != nil {
		l.log.Warn("ilb program failed", zap.String("op", "ilb-program"), zap.String("network", lb.net.name), zap.Error(err))
	}
	if !slices.Equal(p.Select, lb.plan.Select) {
		var hops []string
		for _, m := range p.Select {
			hops = append(hops, p.Hops[m])
		}
		l.changes = append(l.changes, FabricChange{Time: time.Now(), Network: lb.net.name, DestRange: lb.net.dest, NextHops: hops})
		l.log.Info("ilb backends", zap.String("op", "ilb-program"), zap.String("network", lb.net.name), zap.Strings("nextHops", hops))
	}
	lb.plan = p
}

// probeAll starts one traffic check of every backend of every load
// balancer, each on a new connection from the checker's address, as GCE's
// checkers do; a backend whose previous check still runs is skipped.
func (l *ILB) probeAll(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lb := range l.lbs {
		for key, b := range lb.backends {
			if lb.probing[key] {
				continue
			}
			lb.probing[key] = true
			go func() {
				ok := httpCheck(ctx, lb.net.router, lb.net.checker, b.IP, ilbTrafficPort, ilbCheckPath, ilbCheckTimeout)
				l.mu.Lock()
				defer l.mu.Unlock()
				lb.probing[key] = false
				c := lb.checks[key]
				if c == nil || l.lbs == nil { // removed meanwhile, or closed
					return
				}
				if c.record(ok) {
					l.log.Info("ilb health", zap.String("op", "ilb-health"), zap.String("network", lb.net.name), zap.String("instance", key), zap.Bool("healthy", c.healthy))
					l.programLocked(lb)
					l.noteFirstLocked(key)
				}
			}()
		}
	}
}

// httpCheck reports whether GET http://addr:port/path, sent from src in
// namespace ns, answered 200 within timeout.
func httpCheck(ctx context.Context, ns, src, addr string, port int, path string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := func(ctx context.Context, network, a string) (net.Conn, error) {
		var c net.Conn
		err := InNamespace(ns, func() error {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			var err error
			c, err = d.DialContext(ctx, network, a)
			return err
		})
		return c, err
	}
	client := http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true, Proxy: nil}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(addr, strconv.Itoa(port))+path, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Serving reports whether either load balancer may still send flows of
// incarnation key (name#id) to it: a backend whose established TCP flows
// stay counts.
func (l *ILB) Serving(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lb := range l.lbs {
		if _, ok := lb.backends[key]; ok {
			return true
		}
	}
	return false
}

// Healthy returns the incarnations that pass both load balancers' checks.
func (l *ILB) Healthy() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	count := map[string]int{}
	for _, lb := range l.lbs {
		for key, c := range lb.checks {
			if c.healthy {
				count[key]++
			}
		}
	}
	var out []string
	for key, n := range count {
		if n == len(l.lbs) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// noteFirstLocked records when key first passed every load balancer's
// check: from then on new flows reach it on both networks.
func (l *ILB) noteFirstLocked(key string) {
	if _, ok := l.first[key]; ok {
		return
	}
	for _, lb := range l.lbs {
		if c := lb.checks[key]; c == nil || !c.healthy {
			return
		}
	}
	l.first[key] = time.Now()
}

// FirstHealthy reports when incarnation key first passed every load
// balancer's check.
func (l *ILB) FirstHealthy(key string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.first[key]
	return t, ok
}

// Changes returns the load balancers' backend-set changes since since.
func (l *ILB) Changes(since time.Time) []FabricChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []FabricChange
	for _, c := range l.changes {
		if !c.Time.Before(since) {
			out = append(out, c)
		}
	}
	return out
}

// Close removes the load balancers from the routers.
func (l *ILB) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, lb := range l.lbs {
		errs = append(errs, lb.router.close())
	}
	l.lbs = nil
	if err := ip("-n", l.vpcb, "addr", "del", ilbCheckerB+"/32", "dev", "lo"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// incarnationOf is the lab's key of one incarnation, as FabricRoute.Instance
// and the fabric's first-routed record use it.
func incarnationOf(in gcefake.Instance) string {
	return fmt.Sprintf("%s#%d", in.Name, in.ID)
}
