// Package policy turns kernel facts (the forwarder's two NICs) and the
// policyRouting config into the data plane a forwarder needs, as plain data:
// sysctls, ip rules and routes. It does no I/O; internal/kernel reads and
// writes the kernel and internal/dataplane runs the loop.
//
// Choices DESIGN.md leaves open, recorded here:
//
//   - Rule band. vpclink owns ip-rule priorities 10500..10599 (RuleBandFirst..
//     RuleBandLast) and uses 10500 for `from <nic1 address> lookup rt1`. Every
//     rule in the band is vpclink's: one that is not wanted is deleted. Rules
//     outside the band are never touched. The band sits after the usual
//     operator and cloud-agent priorities (0..10000, e.g. 1000 for
//     google-guest-agent) and well before main (32766).
//   - Route protocol. Every route vpclink writes carries protocol 201
//     (RouteProtocol), unused by iproute2's rt_protos and by the routing daemons
//     listed there, so `ip route show proto 201` lists vpclink's routes.
//   - Ownership of routes. The policy table (config policyRouting.table,
//     default 1) belongs to vpclink entirely: anything in it that is not wanted
//     is deleted. In main, only routes with protocol 201 are vpclink's. No other
//     table is read or written.
//   - Table name. The number is what the kernel uses; the name (default rt1)
//     is for people: it appears in rendered lines and logs. vpclink does not
//     write /etc/iproute2/rt_tables; add `1 rt1` there (the image or startup
//     script) if operators want `ip route show table rt1` to work.
//   - The nic1 address is the first IPv4 address on nic1 (the kernel lists a
//     primary before its secondaries). Its prefix gives the subnet route; a /32
//     (as some GCE images configure it) gets no subnet route, only the onlink
//     default.
//   - The nic1 gateway comes from the metadata server; when it is not known,
//     it is the first host of nic1's subnet, which is GCE's rule.
//   - Routes need nic1 administratively up: the kernel refuses routes through
//     a down device and silently removes them when it goes down. Without
//     nic1, its address or its up flag, Desired still returns the sysctls it can
//     (and no rule or route), with an error saying what is missing: the
//     forwarder is not ready.
package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vpclink/vpclink/internal/config"
)

// vpclink's marks in the kernel (see the package comment).
const (
	RuleBandFirst = 10500
	RuleBandLast  = 10599
	RulePriority  = RuleBandFirst
	RouteProtocol = 201
	MainTable     = 254

	defaultTable     = 1
	defaultTableName = "rt1"
)

// Route scopes, as the kernel numbers them.
const (
	ScopeUniverse uint8 = 0
	ScopeLink     uint8 = 253
	ScopeHost     uint8 = 254
)

// ErrIncomplete marks a desired state that lacks what nic1 has not given yet (link,
// address, up flag, gateway): the data plane cannot be ready.
var ErrIncomplete = errors.New("data plane incomplete")

// Link is one network interface as the kernel reports it.
type Link struct {
	Name  string
	Index int
	MAC   string
	Up    bool           // administratively up (IFF_UP)
	Addrs []netip.Prefix // IPv4, primary first
}

// Facts is what Desired needs to know about the machine. NIC0 or NIC1 is nil
// when that interface was not found.
type Facts struct {
	NIC0, NIC1  *Link
	NIC1Gateway string // from metadata; empty: first host of nic1's subnet
}

// Sysctl is one /proc/sys value. Name is the dotted form for people; Path is
// the file under /proc/sys (they differ when a device name contains a dot).
type Sysctl struct {
	Name  string
	Path  string
	Value string
}

// Rule is one IPv4 policy rule. Extra describes selectors or actions other
// than from/lookup that the kernel reported (never set in wanted rules), so
// that such a rule never compares equal to a wanted one.
type Rule struct {
	Priority int
	Src      netip.Prefix // invalid: from all
	Table    int
	Extra    string
}

// Route is one IPv4 route. Dst 0.0.0.0/0 is the default route. Extra, like
// Rule.Extra, carries what the kernel reported beyond these fields.
type Route struct {
	Table    int
	Dst      netip.Prefix
	Gw       netip.Addr
	Dev      string
	Src      netip.Addr
	Scope    uint8
	Protocol int
	OnLink   bool
	Metric   int
	Extra    string
}

// State is a data-plane state: what Desired wants, or (from Observe) vpclink's
// part of what the kernel has. Table and TableName say which table is
// vpclink's and how to name it.
type State struct {
	Table     int
	TableName string
	Sysctls   []Sysctl
	Rules     []Rule
	Routes    []Route
}

// Desired returns the data plane for facts f under config pr. The error is
// ErrIncomplete-wrapped when nic1 is not usable yet (the returned State then
// holds what can be known) and a plain error when pr is unusable.
func Desired(f Facts, pr config.PolicyRouting) (State, error) {
	w := State{Table: pr.Table, TableName: pr.TableName}
	if w.Table == 0 {
		w.Table = defaultTable
	}
	if w.TableName == "" {
		w.TableName = defaultTableName
	}
	var problems []error
	switch w.Table {
	case 0, 253, MainTable, 255:
		return w, fmt.Errorf("policyRouting.table %d: reserved kernel table", w.Table)
	}
	via := make([]netip.Prefix, 0, len(pr.Via))
	for _, v := range pr.Via {
		p, err := netip.ParsePrefix(v)
		if err != nil || !p.Addr().Is4() {
			problems = append(problems, fmt.Errorf("policyRouting.via %q: not an IPv4 prefix", v))
			continue
		}
		via = append(via, p.Masked())
	}
	if len(problems) > 0 {
		return w, errors.Join(problems...)
	}

	w.Sysctls = append(w.Sysctls,
		sysctl("net.ipv4.ip_forward", "1"),
		rpFilter("all"), rpFilter("default"))
	if f.NIC0 != nil {
		w.Sysctls = append(w.Sysctls, rpFilter(f.NIC0.Name))
	} else {
		problems = append(problems, fmt.Errorf("nic0: %w: interface not found", ErrIncomplete))
	}
	if f.NIC1 == nil {
		problems = append(problems, fmt.Errorf("nic1: %w: interface not found", ErrIncomplete))
		return w, errors.Join(problems...)
	}
	nic1 := f.NIC1
	w.Sysctls = append(w.Sysctls, rpFilter(nic1.Name))
	if len(nic1.Addrs) == 0 || !nic1.Addrs[0].Addr().Is4() {
		problems = append(problems, fmt.Errorf("nic1 %s: %w: no IPv4 address", nic1.Name, ErrIncomplete))
		return w, errors.Join(problems...)
	}
	addr := nic1.Addrs[0]
	w.Rules = []Rule{{Priority: RulePriority, Src: netip.PrefixFrom(addr.Addr(), 32), Table: w.Table}}
	if !nic1.Up {
		problems = append(problems, fmt.Errorf("nic1 %s: %w: link is down", nic1.Name, ErrIncomplete))
		return w, errors.Join(problems...)
	}
	gw, err := gateway(f.NIC1Gateway, addr)
	if err != nil {
		problems = append(problems, fmt.Errorf("nic1 %s: %w", nic1.Name, err))
		return w, errors.Join(problems...)
	}
	w.Routes = append(w.Routes, Route{
		Table: w.Table, Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gw: gw,
		Dev: nic1.Name, Protocol: RouteProtocol, OnLink: true,
	})
	if addr.Bits() < 32 {
		w.Routes = append(w.Routes, Route{
			Table: w.Table, Dst: addr.Masked(), Dev: nic1.Name, Src: addr.Addr(),
			Scope: ScopeLink, Protocol: RouteProtocol,
		})
	}
	for _, p := range via {
		w.Routes = append(w.Routes, Route{
			Table: MainTable, Dst: p, Gw: gw, Dev: nic1.Name, Protocol: RouteProtocol, OnLink: true,
		})
	}
	return w, errors.Join(problems...)
}

// gateway returns the configured gateway, or the first host of the subnet.
func gateway(configured string, addr netip.Prefix) (netip.Addr, error) {
	if configured != "" {
		gw, err := netip.ParseAddr(configured)
		if err != nil || !gw.Is4() {
			return netip.Addr{}, fmt.Errorf("gateway %q: not an IPv4 address", configured)
		}
		return gw, nil
	}
	if addr.Bits() >= 31 {
		return netip.Addr{}, fmt.Errorf("%w: gateway unknown (no metadata gateway and address %s has no subnet)", ErrIncomplete, addr)
	}
	return addr.Masked().Addr().Next(), nil
}

func rpFilter(dev string) Sysctl {
	return Sysctl{
		Name:  "net.ipv4.conf." + dev + ".rp_filter",
		Path:  "net/ipv4/conf/" + dev + "/rp_filter",
		Value: "0",
	}
}

func sysctl(name, value string) Sysctl {
	return Sysctl{Name: name, Path: strings.ReplaceAll(name, ".", "/"), Value: value}
}
