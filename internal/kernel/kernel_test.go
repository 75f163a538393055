package kernel_test

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/kernel/kerneltest"
	"github.com/vpclink/vpclink/internal/policy"
)

// setup returns a namespace with eth1 (a veth whose peer is in the same
// namespace) carrying 10.0.3.35/24, and a Kernel bound to it.
func setup(t *testing.T) (*kerneltest.NS, kernel.Kernel) {
	t.Helper()
	kerneltest.SkipUnlessRoot(t)
	ns := kerneltest.NewNS(t, "k")
	ns.IP(t, "link", "add", "eth1", "address", "42:01:0a:00:03:23", "type", "veth", "peer", "name", "peer1")
	ns.IP(t, "link", "set", "eth1", "up")
	ns.IP(t, "link", "set", "peer1", "up")
	ns.IP(t, "addr", "add", "10.0.3.35/24", "dev", "eth1")
	ns.IP(t, "addr", "add", "10.0.3.36/24", "dev", "eth1") // secondary
	k, err := kernel.New(ns.Handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return ns, k
}

var (
	wantedView = policy.State{Table: 1, TableName: "rt1"}
	rt1Default = policy.Route{Table: 1, Dst: netip.MustParsePrefix("0.0.0.0/0"), Gw: netip.MustParseAddr("10.0.3.1"),
		Dev: "eth1", Protocol: policy.RouteProtocol, OnLink: true}
	rt1Subnet = policy.Route{Table: 1, Dst: netip.MustParsePrefix("10.0.3.0/24"), Dev: "eth1",
		Src: netip.MustParseAddr("10.0.3.35"), Scope: policy.ScopeLink, Protocol: policy.RouteProtocol}
	ourRule = policy.Rule{Priority: policy.RulePriority, Src: netip.MustParsePrefix("10.0.3.35/32"), Table: 1}
)

func TestLinksReportMACUpAndPrimaryFirst(t *testing.T) {
	ns, k := setup(t)
	ns.IP(t, "link", "set", "peer1", "down")
	links, err := k.Links()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(links, func(l policy.Link) bool { return l.Name == "eth1" })
	if i < 0 {
		t.Fatalf("eth1 not in %+v", links)
	}
	got := links[i]
	if got.MAC != "42:01:0a:00:03:23" || !got.Up || len(got.Addrs) != 2 || got.Addrs[0].String() != "10.0.3.35/24" {
		t.Errorf("eth1 = %+v, want MAC 42:01:0a:00:03:23, up (admin) although the peer is down, 10.0.3.35/24 first", got)
	}
}

func TestRoutesAndRulesRoundTripIdempotently(t *testing.T) {
	ns, k := setup(t)
	for range 2 { // the second round proves replace/add of what exists is success
		for _, r := range []policy.Route{rt1Default, rt1Subnet} {
			if err := k.ReplaceRoute(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := k.AddRule(ourRule); err != nil {
			t.Fatal(err)
		}
	}
	routes, err := k.Routes(1)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := k.Rules()
	if err != nil {
		t.Fatal(err)
	}
	got := policy.Observe(wantedView, nil, rules, routes).Render()
	want := []string{
		"rule 10500: from 10.0.3.35 lookup rt1",
		"route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink",
		"route table rt1: 10.0.3.0/24 dev eth1 proto 201 scope link src 10.0.3.35",
	}
	if !slices.Equal(got, want) {
		t.Errorf("read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The kernel's own view, independent of our reading code.
	ipRoutes := ns.IP(t, "route", "show", "table", "1")
	for _, line := range []string{"default via 10.0.3.1 dev eth1 proto 201 onlink", "10.0.3.0/24 dev eth1 proto 201 scope link src 10.0.3.35"} {
		if !strings.Contains(ipRoutes, line) {
			t.Errorf("ip route show table 1 lacks %q:\n%s", line, ipRoutes)
		}
	}
	if ipRules := ns.IP(t, "rule", "show"); !strings.Contains(ipRules, "10500:\tfrom 10.0.3.35 lookup 1") {
		t.Errorf("ip rule lacks ours:\n%s", ipRules)
	}

	for range 2 { // deleting what is gone is success
		for _, r := range []policy.Route{rt1Default, rt1Subnet} {
			if err := k.DeleteRoute(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := k.DeleteRule(ourRule); err != nil {
			t.Fatal(err)
		}
	}
	if out := ns.IP(t, "route", "show", "table", "1"); strings.TrimSpace(out) != "" {
		t.Errorf("table 1 not empty after delete: %s", out)
	}
	if out := ns.IP(t, "rule", "show"); strings.Contains(out, "10500") {
		t.Errorf("rule still there: %s", out)
	}
}

func TestRuleWithExtraSelectorsNeverLooksLikeOurs(t *testing.T) {
	ns, k := setup(t)
	ns.IP(t, "rule", "add", "pref", "10500", "from", "10.0.3.35", "iif", "eth1", "lookup", "1")
	rules, err := k.Rules()
	if err != nil {
		t.Fatal(err)
	}
	got := policy.Observe(wantedView, nil, rules, nil).Render()
	if !slices.Equal(got, []string{"rule 10500: from 10.0.3.35 iif eth1 lookup rt1"}) {
		t.Errorf("rules in band = %q", got)
	}
}

func TestSysctlsAreThoseOfTheKernelsNamespace(t *testing.T) {
	ns, k := setup(t)
	const path = "net/ipv4/conf/eth1/rp_filter"
	for _, v := range []string{"1", "0"} {
		if err := k.WriteSysctl(path, v); err != nil {
			t.Fatal(err)
		}
		if got := ns.ReadSysctl(t, "net.ipv4.conf.eth1.rp_filter"); got != v {
			t.Errorf("after writing %s, the namespace has %s", v, got)
		}
		got, err := k.ReadSysctls([]string{path, "net/ipv4/ip_forward"})
		if err != nil || got[path] != v {
			t.Errorf("ReadSysctls = %v, %v; want %s", got, err, v)
		}
	}
	// The process's own namespace must not see the write.
	hostBefore, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/rp_filter")
	if err != nil {
		t.Fatal(err)
	}
	flipped := "1"
	if strings.TrimSpace(string(hostBefore)) == "1" {
		flipped = "2"
	}
	if err := k.WriteSysctl("net/ipv4/conf/all/rp_filter", flipped); err != nil {
		t.Fatal(err)
	}
	if got := ns.ReadSysctl(t, "net.ipv4.conf.all.rp_filter"); got != flipped {
		t.Errorf("namespace all.rp_filter = %s, want %s", got, flipped)
	}
	if hostAfter, _ := os.ReadFile("/proc/sys/net/ipv4/conf/all/rp_filter"); string(hostAfter) != string(hostBefore) {
		t.Errorf("the test process's own all.rp_filter changed: %q -> %q", hostBefore, hostAfter)
	}
	if _, err := k.ReadSysctls([]string{"net/ipv4/conf/nosuchdev/rp_filter"}); err == nil {
		t.Error("reading a missing device's sysctl: want an error")
	}
	if err := k.WriteSysctl("net/ipv4/conf/nosuchdev/rp_filter", "0"); err == nil {
		t.Error("writing a missing device's sysctl: want an error, not a new file")
	}
	if err := k.WriteSysctl("../../etc/passwd", "x"); err == nil {
		t.Error("a path leaving /proc/sys must be refused")
	}
}

func TestSubscribeReportsEachKindOfChange(t *testing.T) {
	ns, k := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := k.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		cause string
		do    func()
	}{
		{kernel.CauseLink, func() { ns.IP(t, "link", "set", "peer1", "mtu", "1400") }},
		{kernel.CauseAddress, func() { ns.IP(t, "addr", "add", "10.9.9.9/32", "dev", "eth1") }},
		{kernel.CauseRoute, func() { ns.IP(t, "route", "add", "198.51.100.0/24", "dev", "eth1", "table", "100") }},
		{kernel.CauseRule, func() { ns.IP(t, "rule", "add", "pref", "1234", "from", "192.0.2.1", "lookup", "100") }},
		{kernel.CauseSysctl, func() { ns.Sysctl(t, "net.ipv4.conf.eth1.rp_filter", "1") }},
		{kernel.CauseSysctl, func() { ns.Sysctl(t, "net.ipv4.ip_forward", "1") }},
	}
	for _, s := range steps {
		s.do()
		if !waitCause(events, s.cause, 2*time.Second) {
			t.Errorf("no %q event", s.cause)
		}
	}
	cancel()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after ctx ended")
		}
	}
}

func waitCause(events <-chan kernel.Event, cause string, within time.Duration) bool {
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return false
			}
			if ev.Cause == cause {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
