package policy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var (
	rt1Default = Route{Table: 1, Dst: netip.MustParsePrefix("0.0.0.0/0"), Gw: netip.MustParseAddr("10.0.3.1"),
		Dev: "eth1", Protocol: RouteProtocol, OnLink: true}
	rt1Subnet = Route{Table: 1, Dst: netip.MustParsePrefix("10.0.3.0/24"), Dev: "eth1",
		Src: netip.MustParseAddr("10.0.3.35"), Scope: ScopeLink, Protocol: RouteProtocol}
	mainVia = Route{Table: MainTable, Dst: netip.MustParsePrefix("10.19.16.0/20"), Gw: netip.MustParseAddr("10.0.3.1"),
		Dev: "eth1", Protocol: RouteProtocol, OnLink: true}
	ourRule = Rule{Priority: RulePriority, Src: netip.MustParsePrefix("10.0.3.35/32"), Table: 1}
)

func wantedForTest(t *testing.T) State {
	t.Helper()
	w, err := Desired(Facts{NIC0: nic("eth0", true, "10.0.0.2/24"), NIC1: nic("eth1", true, "10.0.3.35/24"), NIC1Gateway: "10.0.3.1"}, defaultPR)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func allZero(w State) map[string]string {
	m := map[string]string{}
	for _, s := range w.Sysctls {
		m[s.Path] = s.Value
	}
	return m
}

func TestDiff(t *testing.T) {
	w := wantedForTest(t)
	foreignRule := Rule{Priority: 1000, Src: netip.MustParsePrefix("192.0.2.0/24"), Table: 100}
	foreignMain := Route{Table: MainTable, Dst: netip.MustParsePrefix("203.0.113.0/24"), Gw: netip.MustParseAddr("10.0.3.1"), Dev: "eth1", Protocol: 3}
	kernelMain := Route{Table: MainTable, Dst: netip.MustParsePrefix("10.0.3.0/24"), Dev: "eth1", Protocol: 2, Scope: ScopeLink, Src: netip.MustParseAddr("10.0.3.35")}
	otherTable := Route{Table: 100, Dst: netip.MustParsePrefix("198.51.100.0/24"), Dev: "eth1", Protocol: RouteProtocol}
	good := []Route{rt1Default, rt1Subnet, mainVia, foreignMain, kernelMain, otherTable}

	rp1 := allZero(w)
	rp1["net/ipv4/conf/eth1/rp_filter"] = "1"
	oldRule := ourRule
	oldRule.Src = netip.MustParsePrefix("10.0.3.99/32")
	notOnlink := rt1Default
	notOnlink.OnLink = false
	strayInBand := Rule{Priority: 10550, Table: 1, Extra: "iif eth9"}
	strayInTable := Route{Table: 1, Dst: netip.MustParsePrefix("172.16.0.0/12"), Dev: "eth1", Protocol: 3}
	staleVia := mainVia
	staleVia.Dst = netip.MustParsePrefix("10.99.0.0/16")

	cases := []struct {
		name   string
		values map[string]string
		rules  []Rule
		routes []Route
		want   []string
	}{
		{"converged, foreign objects ignored", allZero(w), []Rule{foreignRule, ourRule}, good, nil},
		{"rp_filter turned back on", rp1, []Rule{ourRule}, good,
			[]string{"sysctl net.ipv4.conf.eth1.rp_filter=0 (was 1)"}},
		{"sysctl unreadable", map[string]string{}, []Rule{ourRule}, good, []string{
			"sysctl net.ipv4.ip_forward=1 (was ?)",
			"sysctl net.ipv4.conf.all.rp_filter=0 (was ?)",
			"sysctl net.ipv4.conf.default.rp_filter=0 (was ?)",
			"sysctl net.ipv4.conf.eth0.rp_filter=0 (was ?)",
			"sysctl net.ipv4.conf.eth1.rp_filter=0 (was ?)",
		}},
		{"link down/up flushed rt1 and via", allZero(w), []Rule{ourRule}, []Route{foreignMain, kernelMain}, []string{
			"+route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink",
			"+route table rt1: 10.0.3.0/24 dev eth1 proto 201 scope link src 10.0.3.35",
			"+route table main: 10.19.16.0/20 via 10.0.3.1 dev eth1 proto 201 onlink",
		}},
		{"new address: new rule added before the old one goes", allZero(w), []Rule{oldRule}, good, []string{
			"+rule 10500: from 10.0.3.35 lookup rt1",
			"-rule 10500: from 10.0.3.99 lookup rt1",
		}},
		{"rule deleted by someone", allZero(w), []Rule{foreignRule}, good,
			[]string{"+rule 10500: from 10.0.3.35 lookup rt1"}},
		{"stray rule in band and stray route in rt1 and stale via", allZero(w), []Rule{ourRule, strayInBand},
			append(slices.Clone(good), strayInTable, staleVia), []string{
				"-rule 10550: from all iif eth9 lookup rt1",
				"-route table rt1: 172.16.0.0/12 dev eth1 proto boot",
				"-route table main: 10.99.0.0/16 via 10.0.3.1 dev eth1 proto 201 onlink",
			}},
		{"same key, different flags: replaced, not deleted", allZero(w), []Rule{ourRule},
			[]Route{notOnlink, rt1Subnet, mainVia},
			[]string{"+route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink"}},
		{"duplicate next to the right route: deleted", allZero(w), []Rule{ourRule},
			append(slices.Clone(good), notOnlink),
			[]string{"-route table rt1: default via 10.0.3.1 dev eth1 proto 201"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			observed := Observe(w, tc.values, tc.rules, tc.routes)
			c := Diff(w, observed)
			got := c.Describe(w, observed)
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if c.Empty() != (len(tc.want) == 0) {
				t.Errorf("Empty() = %v with %d changes", c.Empty(), len(got))
			}
		})
	}
}

func TestObserveLeavesForeignObjectsOut(t *testing.T) {
	w := wantedForTest(t)
	foreign := []Route{
		{Table: MainTable, Dst: netip.MustParsePrefix("203.0.113.0/24"), Dev: "eth1", Protocol: 3},
		{Table: 100, Dst: netip.MustParsePrefix("198.51.100.0/24"), Dev: "eth1", Protocol: RouteProtocol},
	}
	o := Observe(w, allZero(w), []Rule{{Priority: 10499, Table: 1}, {Priority: 10600, Table: 1}, ourRule}, append(foreign, rt1Default))
	want := []string{
		"rule 10500: from 10.0.3.35 lookup rt1",
		"route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink",
	}
	if got := o.Render()[len(w.Sysctls):]; !slices.Equal(got, want) {
		t.Errorf("observed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
