package lab

import (
	"context"
	"fmt"
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
// a feed that signals every change.
type RouteSource interface {
	EffectiveRoutes() []FabricRoute
	Subscribe() (<-chan struct{}, func())
}

// Fabric programs the VPC routers' kernel tables from the effective routes,
// like GCE's data plane: per destination range the lowest priority number
// wins, equal-priority routes share traffic by the kernel's L4 multipath hash
// (set up in Build), and a range without effective routes has no route at all
// (its traffic is unreachable, as in GCE).
type Fabric struct {
	src     RouteSource
	log     *zap.Logger
	routers map[string]*netlink.Handle // network name -> router namespace handle

	mu         sync.Mutex
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
		src:        src,
		log:        log,
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
	return f, nil
}

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

// Close releases the router handles.
func (f *Fabric) Close() {
	for _, h := range f.routers {
		h.Close()
	}
}

// Run follows the route source until ctx ends: it applies every change at
// once and resyncs every second in case a change was missed.
func (f *Fabric) Run(ctx context.Context) error {
	feed, cancel := f.src.Subscribe()
	defer cancel()
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
		case <-feed:
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
	routes := f.src.EffectiveRoutes()
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
