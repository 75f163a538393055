package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/vpclink/vpclink/internal/naming"
)

// Validate reports every problem with a defaulted agent config at once, as
// a *ValidationError. nicNetworks are the networks (names or URLs, index =
// NIC number) of this instance's NICs, as the metadata server lists them;
// nil skips the checks that need them.
func (a Agent) Validate(nicNetworks []string) error {
	var ps problems
	onNIC := map[string]bool{}
	for _, n := range nicNetworks {
		onNIC[naming.NetworkName(n)] = true
	}
	seen := map[string]string{} // "project|network|range" -> first field
	for i, r := range a.Routes {
		f := fmt.Sprintf("routes[%d]", i)
		urlProject, netOK := checkNetwork(&ps, f+".network", r.Network)
		if netOK && nicNetworks != nil && !onNIC[naming.NetworkName(r.Network)] {
			ps.add(f+".network", r.Network, "not the network of any of this instance's NICs (%s)", describeNICs(nicNetworks))
		}
		checkProject(&ps, f+".project", r.Project, urlProject)
		project := r.Project
		if project == "" {
			project = urlProject
		}
		checkRanges(&ps, f+".destRanges", r.DestRanges, project+"|"+naming.NetworkName(r.Network), seen)
		if r.Priority != nil && *r.Priority > MaxRoutePriority {
			ps.add(f+".priority", *r.Priority, "priority outside 0..%d", MaxRoutePriority)
		}
		checkTags(&ps, f+".tags", r.Tags)
		if r.NextHop != NextHopInstance && r.NextHop != NextHopIP {
			ps.add(f+".nextHop", r.NextHop, "want %q or %q", NextHopInstance, NextHopIP)
		}
	}
	a.PolicyRouting.validate(&ps, nicNetworks)
	checkPort(&ps, "health.port", a.Health.Port)
	if a.Health.Listen != "" {
		checkListen(&ps, "health.listen", a.Health.Listen)
	}
	checkNotNegative(&ps, "drain.grace", a.Drain.Grace)
	if err := naming.ValidatePrefix(a.RoutePrefix); err != nil {
		ps.add("routePrefix", a.RoutePrefix, "%v", err)
	}
	return ps.err()
}

func describeNICs(nicNetworks []string) string {
	parts := make([]string, len(nicNetworks))
	for i, n := range nicNetworks {
		parts[i] = fmt.Sprintf("nic%d: %s", i, naming.NetworkName(n))
	}
	return strings.Join(parts, ", ")
}

func checkTags(ps *problems, field string, tags []string) {
	seen := map[string]int{}
	for i, t := range tags {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !gceNameRE.MatchString(t) {
			ps.add(f, t, "not a GCE network tag (lower-case letter first, then letters, digits or '-', at most 63)")
			continue
		}
		if j, dup := seen[t]; dup {
			ps.add(f, t, "duplicate of %s[%d]", field, j)
			continue
		}
		seen[t] = i
	}
}

// Kernel routing tables 253 (default), 254 (main) and 255 (local) are the
// kernel's own; 0 is "unspecified". Tables above 255 exist but are never
// what an operator of rt1 means, so 1..252 is the accepted range.
const (
	minPolicyTable = 1
	maxPolicyTable = 252
)

var reservedTableNames = map[string]bool{"local": true, "main": true, "default": true, "unspec": true}

var tableNameRE = regexp.MustCompile(`^[A-Za-z_][-A-Za-z0-9_.]*$`)

func (p PolicyRouting) validate(ps *problems, nicNetworks []string) {
	switch {
	case p.NIC < 1:
		ps.add("policyRouting.nic", p.NIC, "must be 1 or more (nic0 carries the instance's own traffic and the probes)")
	case nicNetworks != nil && p.NIC >= len(nicNetworks):
		ps.add("policyRouting.nic", p.NIC, "this instance has only %d NICs (%s)", len(nicNetworks), describeNICs(nicNetworks))
	}
	switch p.Table {
	case 253, 254, 255:
		ps.add("policyRouting.table", p.Table, "reserved kernel table (253 default, 254 main, 255 local): pick one in %d..%d", minPolicyTable, maxPolicyTable)
	default:
		if p.Table < minPolicyTable || p.Table > maxPolicyTable {
			ps.add("policyRouting.table", p.Table, "table outside %d..%d", minPolicyTable, maxPolicyTable)
		}
	}
	if _, err := strconv.Atoi(p.TableName); err == nil || !tableNameRE.MatchString(p.TableName) || reservedTableNames[p.TableName] {
		ps.add("policyRouting.tableName", p.TableName, "not a usable table name (a word such as rt1, not a number nor local/main/default/unspec)")
	}
	seen := map[string]string{}
	for i, v := range p.Via {
		f := fmt.Sprintf("policyRouting.via[%d]", i)
		pfx, ok := checkCIDR(ps, f, v)
		if !ok {
			continue
		}
		if first, dup := seen[pfx.String()]; dup {
			ps.add(f, v, "duplicate of %s", first)
			continue
		}
		seen[pfx.String()] = f
	}
}
