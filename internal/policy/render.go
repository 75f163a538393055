package policy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Render returns w as text lines, close to what `sysctl`, `ip rule` and
// `ip route show table T` print, in a stable order (sysctls as planned, then
// rules by priority, then routes by table and destination):
//
//	sysctl net.ipv4.conf.eth1.rp_filter=0
//	rule 10500: from 10.0.3.35 lookup rt1
//	route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink
//
// Tests compare states through these lines and /status shows them.
func (w State) Render() []string {
	lines := make([]string, 0, len(w.Sysctls)+len(w.Rules)+len(w.Routes))
	for _, s := range w.Sysctls {
		lines = append(lines, s.Render())
	}
	for _, r := range sortedRules(w.Rules) {
		lines = append(lines, w.RenderRule(r))
	}
	for _, r := range sortedRoutes(w.Routes) {
		lines = append(lines, w.RenderRoute(r))
	}
	return lines
}

// Render returns "sysctl NAME=VALUE"; an unreadable value renders as "?".
func (s Sysctl) Render() string {
	v := s.Value
	if v == "" {
		v = "?"
	}
	return "sysctl " + s.Name + "=" + v
}

// RenderRule returns r as a line, naming w's table by its name.
func (w State) RenderRule(r Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rule %d: from ", r.Priority)
	switch {
	case !r.Src.IsValid() || r.Src.Bits() == 0:
		b.WriteString("all")
	case r.Src.IsSingleIP():
		b.WriteString(r.Src.Addr().String())
	default:
		b.WriteString(r.Src.String())
	}
	if r.Extra != "" {
		b.WriteString(" " + r.Extra)
	}
	if r.Table != 0 {
		b.WriteString(" lookup " + w.tableName(r.Table))
	}
	return b.String()
}

// RenderRoute returns r as a line, naming w's table by its name.
func (w State) RenderRoute(r Route) string {
	var b strings.Builder
	fmt.Fprintf(&b, "route table %s: ", w.tableName(r.Table))
	if r.Dst.Bits() == 0 {
		b.WriteString("default")
	} else {
		b.WriteString(r.Dst.String())
	}
	if r.Gw.IsValid() {
		b.WriteString(" via " + r.Gw.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Protocol != 0 {
		b.WriteString(" proto " + protocolName(r.Protocol))
	}
	switch r.Scope {
	case ScopeUniverse:
	case ScopeLink:
		b.WriteString(" scope link")
	case ScopeHost:
		b.WriteString(" scope host")
	default:
		fmt.Fprintf(&b, " scope %d", r.Scope)
	}
	if r.Src.IsValid() {
		b.WriteString(" src " + r.Src.String())
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	if r.Extra != "" {
		b.WriteString(" " + r.Extra)
	}
	if r.OnLink {
		b.WriteString(" onlink")
	}
	return b.String()
}

func (w State) tableName(t int) string {
	switch t {
	case w.Table:
		if w.TableName != "" {
			return w.TableName
		}
	case MainTable:
		return "main"
	}
	return fmt.Sprint(t)
}

// protocolName names the protocols iproute2 names; others stay numbers.
func protocolName(p int) string {
	switch p {
	case 2:
		return "kernel"
	case 3:
		return "boot"
	case 4:
		return "static"
	case 16:
		return "dhcp"
	}
	return fmt.Sprint(p)
}

func sortedRules(rules []Rule) []Rule {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b Rule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.Src.Addr().Compare(b.Src.Addr()))
	})
	return out
}

func sortedRoutes(routes []Route) []Route {
	out := slices.Clone(routes)
	slices.SortStableFunc(out, func(a, b Route) int {
		return cmp.Or(tableOrder(a.Table)-tableOrder(b.Table), comparePrefix(a.Dst, b.Dst),
			cmp.Compare(a.Metric, b.Metric))
	})
	return out
}

// tableOrder puts vpclink's own table (any but main) before main.
func tableOrder(t int) int {
	if t == MainTable {
		return 1 << 20
	}
	return t
}

// comparePrefix orders default first, then by address and length.
func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(cmp.Compare(min(a.Bits(), 1), min(b.Bits(), 1)) /* default first */, a.Addr().Compare(b.Addr()),
		cmp.Compare(a.Bits(), b.Bits()))
}
