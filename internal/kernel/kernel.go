// Package kernel is vpclink's only door to the kernel's network state: links,
// addresses, rules and routes over netlink, sysctls through /proc/sys, and a
// netlink event monitor. It speaks internal/policy's types so that the
// keeper (internal/dataplane) compares like with like.
//
// Choices recorded here:
//
//   - One Kernel is bound to one network namespace, given as a handle to New
//     (netns.None() = the caller's). Netlink sockets are opened inside it, so
//     tests and the lab drive a namespace without the process entering it.
//   - /proc/sys/net shows the network namespace of the thread that opens the
//     file. For a namespace other than the caller's, every sysctl access runs
//     on a fresh goroutine locked to its OS thread, which enters the namespace,
//     opens, reads or writes, and returns. If it cannot return to its original
//     namespace, the goroutine exits still locked, and the Go runtime then
//     destroys that thread rather than reuse it elsewhere.
//   - Idempotence: adding a rule that exists and deleting a rule or route that
//     is gone are success (EEXIST, ENOENT, ESRCH). Routes are only ever
//     written with replace, never add.
//   - Every netlink request has a 5 s socket timeout, so a wedged kernel call
//     cannot freeze the keeper's loop forever.
package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vpclink/vpclink/internal/policy"
)

// Kernel reads and changes one network namespace's routing state. Safe for
// concurrent use.
type Kernel interface {
	// Links returns every link with its IPv4 addresses, primaries first.
	Links() ([]policy.Link, error)
	// Rules returns every IPv4 policy rule.
	Rules() ([]policy.Rule, error)
	// Routes returns every IPv4 route of one table.
	Routes(table int) ([]policy.Route, error)
	ReplaceRoute(policy.Route) error
	DeleteRoute(policy.Route) error
	AddRule(policy.Rule) error
	DeleteRule(policy.Rule) error
	// ReadSysctls returns the values of paths under /proc/sys (trimmed). A
	// path that cannot be read is missing from the map and named in the error.
	ReadSysctls(paths []string) (map[string]string, error)
	WriteSysctl(path, value string) error
	// Subscribe reports link, address, route, rule and netconf (sysctl)
	// changes until ctx ends or the socket fails; then the channel closes.
	Subscribe(ctx context.Context) (<-chan Event, error)
	Close() error
}

const socketTimeout = 5 * time.Second

// New returns a Kernel for namespace ns; netns.None() is the caller's own.
// The handle must stay open until Close.
func New(ns netns.NsHandle) (Kernel, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in namespace %v: %w", ns, err)
	}
	if err := h.SetSocketTimeout(socketTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink socket timeout: %w", err)
	}
	return &netlinkKernel{h: h, ns: ns}, nil
}

type netlinkKernel struct {
	mu sync.Mutex // netlink.Handle shares sockets between calls
	h  *netlink.Handle
	ns netns.NsHandle
}

func (k *netlinkKernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.h.Close()
	return nil
}

func (k *netlinkKernel) Links() ([]policy.Link, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	links, err := k.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	addrs, err := k.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	out := make([]policy.Link, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		pl := policy.Link{Name: a.Name, Index: a.Index, MAC: a.HardwareAddr.String(), Up: a.Flags&net.FlagUp != 0}
		var secondaries []netip.Prefix
		for _, ad := range addrs {
			if ad.LinkIndex != a.Index || ad.IPNet == nil {
				continue
			}
			p, ok := prefixOf(ad.IPNet)
			if !ok {
				continue
			}
			if ad.Flags&unix.IFA_F_SECONDARY != 0 {
				secondaries = append(secondaries, p)
			} else {
				pl.Addrs = append(pl.Addrs, p)
			}
		}
		pl.Addrs = append(pl.Addrs, secondaries...)
		out = append(out, pl)
	}
	return out, nil
}

// linkNames maps index to name; the caller holds k.mu.
func (k *netlinkKernel) linkNames() (map[int]string, error) {
	links, err := k.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	return names, nil
}

func (k *netlinkKernel) Rules() ([]policy.Rule, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	rules, err := k.h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	out := make([]policy.Rule, 0, len(rules))
	for _, r := range rules {
		pr := policy.Rule{Priority: r.Priority, Table: r.Table, Extra: ruleExtra(r)}
		if r.Src != nil {
			pr.Src, _ = prefixOf(r.Src)
		}
		out = append(out, pr)
	}
	return out, nil
}

// ruleExtra describes the selectors and actions of r that policy.Rule has no
// field for, so that a rule carrying them never equals a wanted one.
func ruleExtra(r netlink.Rule) string {
	var parts []string
	add := func(cond bool, format string, args ...any) {
		if cond {
			parts = append(parts, fmt.Sprintf(format, args...))
		}
	}
	add(r.Invert, "not")
	add(r.Dst != nil, "to %v", r.Dst)
	add(r.Tos != 0, "tos %d", r.Tos)
	add(r.Mark != 0 || r.Mask != nil, "fwmark %#x", r.Mark)
	add(r.IifName != "", "iif %s", r.IifName)
	add(r.OifName != "", "oif %s", r.OifName)
	add(r.IPProto != 0, "ipproto %d", r.IPProto)
	add(r.Sport != nil || r.Dport != nil, "ports")
	add(r.UIDRange != nil, "uidrange")
	add(r.SuppressPrefixlen >= 0, "suppress_prefixlength %d", r.SuppressPrefixlen)
	add(r.SuppressIfgroup >= 0, "suppress_ifgroup %d", r.SuppressIfgroup)
	add(r.Goto > 0, "goto %d", r.Goto)
	add(r.Type != 0 && r.Type != unix.FR_ACT_TO_TBL, "action %d", r.Type)
	return strings.Join(parts, " ")
}

func (k *netlinkKernel) Routes(table int) ([]policy.Route, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	routes, err := k.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes of table %d: %w", table, err)
	}
	names, err := k.linkNames()
	if err != nil {
		return nil, err
	}
	out := make([]policy.Route, 0, len(routes))
	for _, r := range routes {
		pr := policy.Route{
			Table: r.Table, Dev: names[r.LinkIndex], Scope: uint8(r.Scope), Protocol: int(r.Protocol),
			OnLink: r.Flags&unix.RTNH_F_ONLINK != 0, Metric: r.Priority, Extra: routeExtra(r),
		}
		pr.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.Dst != nil {
			pr.Dst, _ = prefixOf(r.Dst)
		}
		pr.Gw = addrOf(r.Gw)
		pr.Src = addrOf(r.Src)
		out = append(out, pr)
	}
	return out, nil
}

// routeExtra describes what policy.Route has no field for.
func routeExtra(r netlink.Route) string {
	var parts []string
	if r.Type != 0 && r.Type != unix.RTN_UNICAST {
		parts = append(parts, fmt.Sprintf("type %d", r.Type))
	}
	if r.Tos != 0 {
		parts = append(parts, fmt.Sprintf("tos %d", r.Tos))
	}
	if len(r.MultiPath) > 0 {
		parts = append(parts, fmt.Sprintf("nexthops %d", len(r.MultiPath)))
	}
	return strings.Join(parts, " ")
}

// toNetlink builds the netlink form of r; the caller holds k.mu.
func (k *netlinkKernel) toNetlink(r policy.Route) (*netlink.Route, error) {
	nr := &netlink.Route{
		Table: r.Table, Scope: netlink.Scope(r.Scope), Protocol: netlink.RouteProtocol(r.Protocol),
		Priority: r.Metric, Family: netlink.FAMILY_V4, Type: unix.RTN_UNICAST,
	}
	if r.Dst.Bits() > 0 {
		nr.Dst = &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), 32)}
	}
	if r.Gw.IsValid() {
		nr.Gw = r.Gw.AsSlice()
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if r.OnLink {
		nr.Flags |= unix.RTNH_F_ONLINK
	}
	if r.Dev != "" {
		l, err := k.h.LinkByName(r.Dev)
		if err != nil {
			return nil, fmt.Errorf("link %s: %w", r.Dev, err)
		}
		nr.LinkIndex = l.Attrs().Index
	}
	return nr, nil
}

func (k *netlinkKernel) ReplaceRoute(r policy.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	nr, err := k.toNetlink(r)
	if err == nil {
		err = k.h.RouteReplace(nr)
	}
	if err != nil {
		return fmt.Errorf("route table %d %s: replace: %w", r.Table, r.Dst, err)
	}
	return nil
}

func (k *netlinkKernel) DeleteRoute(r policy.Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	nr, err := k.toNetlink(r)
	if errors.Is(err, unix.ENODEV) || isLinkNotFound(err) {
		nr, err = k.toNetlink(policy.Route{Table: r.Table, Dst: r.Dst, Metric: r.Metric, Protocol: r.Protocol})
	}
	if err == nil {
		nr.Type = 0 // match any type
		err = k.h.RouteDel(nr)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("route table %d %s: delete: %w", r.Table, r.Dst, err)
	}
	return nil
}

func isLinkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

func toNetlinkRule(r policy.Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	nr.Priority = r.Priority
	nr.Table = r.Table
	nr.Protocol = policy.RouteProtocol // shows in `ip rule` as proto 201
	if r.Src.IsValid() && r.Src.Bits() > 0 {
		nr.Src = &net.IPNet{IP: r.Src.Addr().AsSlice(), Mask: net.CIDRMask(r.Src.Bits(), 32)}
	}
	return nr
}

func (k *netlinkKernel) AddRule(r policy.Rule) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.h.RuleAdd(toNetlinkRule(r)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("rule %d from %v: add: %w", r.Priority, r.Src, err)
	}
	return nil
}

func (k *netlinkKernel) DeleteRule(r policy.Rule) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	nr := toNetlinkRule(r)
	nr.Protocol = 0 // the kernel would match only rules with this protocol
	err := k.h.RuleDel(nr)
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("rule %d from %v: delete: %w", r.Priority, r.Src, err)
	}
	return nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, _ := n.Mask.Size()
	if !a.Is4() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}
