package lab

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
)

// FabricRoute is one effective GCE route as the fabric uses it: traffic on
// Network to DestRange goes to NextHop, the address of the next-hop instance
// on that network.
type FabricRoute struct {
	Network   string // short network name
	DestRange string
	Priority  uint32
	NextHop   string // IPv4 address
	Instance  string // instance name, for the record
}

// RouteSource is what the fabric follows: the fake GCE's effective routes and
// a feed that signals every change. A design may add sources of its own
// (AddSource): a Cloud Router model's dynamic routes, say.
type RouteSource interface {
	EffectiveRoutes() []FabricRoute
	Subscribe() (<-chan struct{}, func())
}

// Fabric programs the VPC routers' kernel tables from the effective routes,
// like GCE's data plane: per destination range the lowest priority number
// wins, equal-priority routes share traffic by the kernel's L4 multipath hash
// (set up in Build), and a range without effective routes has no route at all
// (its traffic is unreachable, as in GCE).
//
// Routes the fabric did not program are not its business: a design that
// programs a router itself (Router) keeps those destinations out of every
// source, and the fabric neither replaces nor deletes them.
type Fabric struct {
	log     *zap.Logger
	kick    chan struct{}              // a source changed
	routers map[string]*netlink.Handle // network name -> router namespace handle

	mu         sync.Mutex
	srcs       map[int]RouteSource
	removers   []func()
	nextSrc    int
	programmed map[string]map[string][]string // network -> dest -> sorted next hops
	firstSeen  map[string]time.Time           // instance name -> first time it carried traffic
	changes    []FabricChange
}

// FabricChange records one change of a router's table, for the report.
type FabricChange struct {
	Time      time.Time
	Network   string
	DestRange string
	NextHops  []string // empty: route removed
}

// NewFabric opens the routers of topology t. Close releases them.
func NewFabric(t Topology, src RouteSource, log *zap.Logger) (*Fabric, error) {
	f := &Fabric{
		log:        log,
		kick:       make(chan struct{}, 1),
		srcs:       map[int]RouteSource{},
		routers:    map[string]*netlink.Handle{},
		programmed: map[string]map[string][]string{},
		firstSeen:  map[string]time.Time{},
	}
	for network, ns := range map[string]string{NetworkA: t.VPCA(), NetworkB: t.VPCB()} {
		h, err := handleIn(ns)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("fabric %s: %w", network, err)
		}
		f.routers[network] = h
		f.programmed[network] = map[string][]string{}
	}
	f.AddSource(src)
	return f, nil
}

// AddSource makes the fabric follow src too, until remove is called: its
// routes join the others' in Wanted (lowest priority number wins, equal
// priorities share by hash). Its feed wakes Run.
func (f *Fabric) AddSource(src RouteSource) (remove func()) {
	feed, cancel := src.Subscribe()
	done := make(chan struct{})
	f.mu.Lock()
	id := f.nextSrc
	f.nextSrc++
	f.srcs[id] = src
	f.mu.Unlock()
	go func() {
		for {
			select {
			case <-done:
				return
			case <-feed:
				select {
				case f.kick <- struct{}{}:
				default:
				}
			}
		}
	}()
	var once sync.Once
	remove = func() {
		once.Do(func() {
			cancel()
			close(done)
			f.mu.Lock()
			delete(f.srcs, id)
			f.mu.Unlock()
			select {
			case f.kick <- struct{}{}:
			default:
			}
		})
	}
	f.mu.Lock()
	f.removers = append(f.removers, remove)
	f.mu.Unlock()
	return remove
}

// Router returns the netlink handle of network's router (NetworkA or
// NetworkB), for a design that programs a destination itself (a load
// balancer's next hop with its own flow table). Such a destination must
// not come from any RouteSource; the fabric leaves it alone.
func (f *Fabric) Router(network string) *netlink.Handle { return f.routers[network] }

func handleIn(ns string) (*netlink.Handle, error) {
	nh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("netns %s: open: %w", ns, err)
	}
	defer nh.Close()
	h, err := netlink.NewHandleAt(nh)
	if err != nil {
		return nil, fmt.Errorf("netns %s: netlink: %w", ns, err)
	}
	return h, nil
}

// Close stops following the sources and releases the router handles.
func (f *Fabric) Close() {
	f.mu.Lock()
	removers := f.removers
	f.mu.Unlock()
	for _, remove := range removers {
		remove()
	}
	for _, h := range f.routers {
		h.Close()
	}
}

// Run follows the route source until ctx ends: it applies every change at
// once and resyncs every second in case a change was missed.
func (f *Fabric) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := f.Sync(); err != nil && ctx.Err() == nil {
			// A failed route change is retried next round; the lab's
			// report will show the outage it causes.
			f.log.Warn("fabric sync failed", zap.String("op", "fabric-sync"), zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-f.kick:
		case <-tick.C:
		}
	}
}

// Wanted computes each network's routing table from effective routes:
// network -> destination -> sorted next hops of the best priority. Pure.
func Wanted(routes []FabricRoute) map[string]map[string][]string {
	best := map[[2]string]uint32{}
	for _, r := range routes {
		k := [2]string{r.Network, r.DestRange}
		if p, ok := best[k]; !ok || r.Priority < p {
			best[k] = r.Priority
		}
	}
	out := map[string]map[string][]string{}
	for _, r := range routes {
		k := [2]string{r.Network, r.DestRange}
		if r.Priority != best[k] || r.NextHop == "" {
			continue
		}
		if out[r.Network] == nil {
			out[r.Network] = map[string][]string{}
		}
		hops := out[r.Network][r.DestRange]
		if !slices.Contains(hops, r.NextHop) {
			hops = append(hops, r.NextHop)
			sort.Strings(hops)
		}
		out[r.Network][r.DestRange] = hops
	}
	return out
}

// Sync makes the routers' tables match the effective routes now.
func (f *Fabric) Sync() error {
	f.mu.Lock()
	srcs := maps.Clone(f.srcs)
	f.mu.Unlock()
	var routes []FabricRoute
	for _, src := range srcs {
		routes = append(routes, src.EffectiveRoutes()...)
	}
	wanted := Wanted(routes)
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for network, h := range f.routers {
		have := f.programmed[network]
		want := wanted[network]
		for dest, hops := range want {
			if slices.Equal(have[dest], hops) {
				continue
			}
			if err := replaceRoute(h, dest, hops); err != nil {
				errs = append(errs, fmt.Errorf("fabric %s route %s: %w", network, dest, err))
				continue
			}
			have[dest] = hops
			f.log.Info("fabric route", zap.String("op", "fabric-replace"), zap.String("network", network), zap.String("route", dest), zap.Strings("nextHops", hops))
			f.changes = append(f.changes, FabricChange{Time: now, Network: network, DestRange: dest, NextHops: hops})
		}
		for dest := range have {
			if _, ok := want[dest]; ok {
				continue
			}
			if err := deleteRoute(h, dest); err != nil {
				errs = append(errs, fmt.Errorf("fabric %s route %s: %w", network, dest, err))
				continue
			}
			delete(have, dest)
			f.log.Info("fabric route", zap.String("op", "fabric-delete"), zap.String("network", network), zap.String("route", dest))
			f.changes = append(f.changes, FabricChange{Time: now, Network: network, DestRange: dest})
		}
	}
	for _, r := range routes {
		if wanted[r.Network] != nil && slices.Contains(wanted[r.Network][r.DestRange], r.NextHop) {
			if _, ok := f.firstSeen[r.Instance]; !ok {
				f.firstSeen[r.Instance] = now
			}
		}
	}
	return joinErrs(errs)
}

func replaceRoute(h *netlink.Handle, dest string, hops []string) error {
	_, dst, err := net.ParseCIDR(dest)
	if err != nil {
		return err
	}
	r := &netlink.Route{Dst: dst}
	if len(hops) == 1 {
		r.Gw = net.ParseIP(hops[0])
	} else {
		for _, hop := range hops {
			r.MultiPath = append(r.MultiPath, &netlink.NexthopInfo{Gw: net.ParseIP(hop)})
		}
	}
	return h.RouteReplace(r)
}

func deleteRoute(h *netlink.Handle, dest string) error {
	_, dst, err := net.ParseCIDR(dest)
	if err != nil {
		return err
	}
	if err := h.RouteDel(&netlink.Route{Dst: dst}); err != nil && !strings.Contains(err.Error(), "no such process") {
		return err
	}
	return nil
}

// FirstRouted reports when instance first carried traffic in the fabric.
func (f *Fabric) FirstRouted(instance string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.firstSeen[instance]
	return t, ok
}

// NextHops returns what network's router sends dest to now.
func (f *Fabric) NextHops(network, dest string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.programmed[network][dest])
}

// Changes returns the table changes since since.
func (f *Fabric) Changes(since time.Time) []FabricChange {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FabricChange
	for _, c := range f.changes {
		if !c.Time.Before(since) {
			out = append(out, c)
		}
	}
	return out
}
