package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/vpclink/vpclink/internal/naming"
)

// gceNameRE is GCE's rule for resource names (networks, zones, groups) and
// for network tags (RFC 1035 labels, at most 63 characters).
var gceNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// projectRE accepts project ids, including domain-scoped ones
// ("example.com:my-project"). GCE's 6..30 length rule is not enforced so that
// the lab and tests can use short fake ids.
var projectRE = regexp.MustCompile(`^([a-z0-9][-a-z0-9.]*:)?[a-z]([-a-z0-9]*[a-z0-9])?$`)

// checkCIDR reports what is wrong with a destination range and returns the
// parsed prefix when it is usable. Ranges must be IPv4: vpclink's data plane
// (rt1, rp_filter, main-table routes via the nic1 gateway) is IPv4-only, so an
// IPv6 range would be announced to GCE and then blackholed on the forwarder.
func checkCIDR(ps *problems, field, s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		ps.add(field, s, "not a CIDR (want an IPv4 network such as 10.19.16.0/20)")
	case !p.Addr().Is4():
		ps.add(field, s, "IPv6 is not supported: vpclink routes and policy routing are IPv4-only")
	case p.Masked() != p:
		ps.add(field, s, "not a network address (host bits set): the network is %s", p.Masked())
	default:
		return p, true
	}
	return netip.Prefix{}, false
}

// checkRanges checks a destRanges-like list: present, each a network, none
// repeated within the list or within the same scope (network and project)
// across entries; seen carries the scope's earlier ranges and where they were.
func checkRanges(ps *problems, field string, ranges []string, scope string, seen map[string]string) {
	if len(ranges) == 0 {
		ps.add(field, nil, "no ranges: list at least one destination range")
		return
	}
	for i, s := range ranges {
		f := fmt.Sprintf("%s[%d]", field, i)
		p, ok := checkCIDR(ps, f, s)
		if !ok {
			continue
		}
		key := scope + "|" + p.String()
		if first, dup := seen[key]; dup {
			ps.add(f, s, "duplicate of %s", first)
			continue
		}
		seen[key] = f
	}
}

// checkNetwork accepts a network name or a URL ending in
// networks/<name> (https://www.googleapis.com/compute/v1/projects/p/global/networks/n,
// projects/p/global/networks/n, global/networks/n). It returns the project
// the URL names, if any.
func checkNetwork(ps *problems, field, network string) (urlProject string, ok bool) {
	if network == "" {
		ps.add(field, nil, "missing: name the network (name or URL)")
		return "", false
	}
	name := naming.NetworkName(network)
	parts := strings.Split(strings.TrimSuffix(network, "/"), "/")
	if !gceNameRE.MatchString(name) || (len(parts) > 1 && parts[len(parts)-2] != "networks") {
		ps.add(field, network, "not a network name or a URL ending in networks/<name>")
		return "", false
	}
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "projects" {
			return parts[i+1], true
		}
	}
	return "", true
}

// checkProject checks an optional project id against the network URL's.
func checkProject(ps *problems, field, project, urlProject string) {
	if project == "" {
		return
	}
	if !projectRE.MatchString(project) {
		ps.add(field, project, "not a project id")
		return
	}
	if urlProject != "" && urlProject != project {
		ps.add(field, project, "differs from the project %q in the network URL", urlProject)
	}
}

func checkPort(ps *problems, field string, port int) {
	if port < 1 || port > 65535 {
		ps.add(field, port, "port outside 1..65535")
	}
}

func checkNotNegative(ps *problems, field string, d Duration) {
	if d.Duration < 0 {
		ps.add(field, d.Duration, "negative duration")
	}
}

// checkListen accepts host:port where host is empty (all addresses), an IP
// or a host name, and port is a number in 1..65535.
func checkListen(ps *problems, field, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ps.add(field, addr, "not a listen address host:port such as :9781 or 127.0.0.1:9781 (%v)", err)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		ps.add(field, addr, "port %q outside 1..65535", port)
	}
	if host == "" {
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return
	}
	if !hostnameRE.MatchString(host) {
		ps.add(field, addr, "host %q is neither an IP address nor a host name", host)
	}
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$`)
