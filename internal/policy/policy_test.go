package policy

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vpclink/vpclink/internal/config"
)

func nic(name string, up bool, addrs ...string) *Link {
	l := &Link{Name: name, Up: up}
	for _, a := range addrs {
		l.Addrs = append(l.Addrs, netip.MustParsePrefix(a))
	}
	return l
}

var defaultPR = config.PolicyRouting{NIC: 1, Table: 1, TableName: "rt1", Via: []string{"10.19.16.0/20"}}

func TestDesired(t *testing.T) {
	sysctlsBoth := []string{
		"sysctl net.ipv4.ip_forward=1",
		"sysctl net.ipv4.conf.all.rp_filter=0",
		"sysctl net.ipv4.conf.default.rp_filter=0",
		"sysctl net.ipv4.conf.eth0.rp_filter=0",
		"sysctl net.ipv4.conf.eth1.rp_filter=0",
	}
	cases := []struct {
		name       string
		facts      Facts
		pr         config.PolicyRouting
		want       []string
		incomplete bool
	}{
		{
			name:  "field report forwarder",
			facts: Facts{NIC0: nic("eth0", true, "10.0.0.2/24"), NIC1: nic("eth1", true, "10.0.3.35/24"), NIC1Gateway: "10.0.3.1"},
			pr:    defaultPR,
			want: append(slices.Clone(sysctlsBoth),
				"rule 10500: from 10.0.3.35 lookup rt1",
				"route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink",
				"route table rt1: 10.0.3.0/24 dev eth1 proto 201 scope link src 10.0.3.35",
				"route table main: 10.19.16.0/20 via 10.0.3.1 dev eth1 proto 201 onlink",
			),
		},
		{
			name:  "gateway derived, other table and name, via unsorted",
			facts: Facts{NIC0: nic("ens4", true, "10.0.0.2/24"), NIC1: nic("ens5", true, "192.168.7.9/26")},
			pr:    config.PolicyRouting{Table: 7, TableName: "vpcb", Via: []string{"10.30.0.0/16", "10.19.16.7/20"}},
			want: []string{
				"sysctl net.ipv4.ip_forward=1",
				"sysctl net.ipv4.conf.all.rp_filter=0",
				"sysctl net.ipv4.conf.default.rp_filter=0",
				"sysctl net.ipv4.conf.ens4.rp_filter=0",
				"sysctl net.ipv4.conf.ens5.rp_filter=0",
				"rule 10500: from 192.168.7.9 lookup vpcb",
				"route table vpcb: default via 192.168.7.1 dev ens5 proto 201 onlink",
				"route table vpcb: 192.168.7.0/26 dev ens5 proto 201 scope link src 192.168.7.9",
				"route table main: 10.19.16.0/20 via 192.168.7.1 dev ens5 proto 201 onlink",
				"route table main: 10.30.0.0/16 via 192.168.7.1 dev ens5 proto 201 onlink",
			},
		},
		{
			name:  "defaults for an empty policyRouting; /32 address gets no subnet route",
			facts: Facts{NIC0: nic("eth0", true, "10.0.0.2/32"), NIC1: nic("eth1", true, "10.0.3.35/32"), NIC1Gateway: "10.0.3.1"},
			want: append(slices.Clone(sysctlsBoth),
				"rule 10500: from 10.0.3.35 lookup rt1",
				"route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink",
			),
		},
		{
			name:  "first address is the one that counts",
			facts: Facts{NIC0: nic("eth0", true), NIC1: nic("eth1", true, "10.0.3.36/24", "10.0.3.35/24"), NIC1Gateway: "10.0.3.1"},
			pr:    config.PolicyRouting{Table: 1, TableName: "rt1"},
			want: append(slices.Clone(sysctlsBoth),
				"rule 10500: from 10.0.3.36 lookup rt1",
				"route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink",
				"route table rt1: 10.0.3.0/24 dev eth1 proto 201 scope link src 10.0.3.36",
			),
		},
		{
			name:       "nic1 absent: sysctls only",
			facts:      Facts{NIC0: nic("eth0", true, "10.0.0.2/24")},
			pr:         defaultPR,
			want:       sysctlsBoth[:4],
			incomplete: true,
		},
		{
			name:       "nic1 without address",
			facts:      Facts{NIC0: nic("eth0", true), NIC1: nic("eth1", true)},
			pr:         defaultPR,
			want:       sysctlsBoth,
			incomplete: true,
		},
		{
			name:       "nic1 down keeps the rule, no routes",
			facts:      Facts{NIC0: nic("eth0", true), NIC1: nic("eth1", false, "10.0.3.35/24"), NIC1Gateway: "10.0.3.1"},
			pr:         defaultPR,
			want:       append(slices.Clone(sysctlsBoth), "rule 10500: from 10.0.3.35 lookup rt1"),
			incomplete: true,
		},
		{
			name:       "nic0 absent",
			facts:      Facts{NIC1: nic("eth1", true, "10.0.3.35/32"), NIC1Gateway: "10.0.3.1"},
			pr:         defaultPR,
			incomplete: true,
			want: []string{
				"sysctl net.ipv4.ip_forward=1",
				"sysctl net.ipv4.conf.all.rp_filter=0",
				"sysctl net.ipv4.conf.default.rp_filter=0",
				"sysctl net.ipv4.conf.eth1.rp_filter=0",
				"rule 10500: from 10.0.3.35 lookup rt1",
				"route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink",
				"route table main: 10.19.16.0/20 via 10.0.3.1 dev eth1 proto 201 onlink",
			},
		},
		{
			name:       "/32 and no metadata gateway: gateway unknown",
			facts:      Facts{NIC0: nic("eth0", true), NIC1: nic("eth1", true, "10.0.3.35/32")},
			pr:         defaultPR,
			want:       append(slices.Clone(sysctlsBoth), "rule 10500: from 10.0.3.35 lookup rt1"),
			incomplete: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Desired(tc.facts, tc.pr)
			if got := errors.Is(err, ErrIncomplete); got != tc.incomplete {
				t.Errorf("incomplete = %v (err %v), want %v", got, err, tc.incomplete)
			}
			if got := w.Render(); !slices.Equal(got, tc.want) {
				t.Errorf("Render:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestPlanRejectsBadConfig(t *testing.T) {
	facts := Facts{NIC0: nic("eth0", true), NIC1: nic("eth1", true, "10.0.3.35/24")}
	for _, tc := range []struct {
		pr      config.PolicyRouting
		mention string
	}{
		{config.PolicyRouting{Table: 254}, "policyRouting.table 254"},
		{config.PolicyRouting{Table: 255}, "policyRouting.table 255"},
		{config.PolicyRouting{Via: []string{"10.19.16.0/20", "nonsense"}}, `policyRouting.via "nonsense"`},
		{config.PolicyRouting{Via: []string{"2001:db8::/32"}}, `policyRouting.via "2001:db8::/32"`},
	} {
		_, err := Desired(facts, tc.pr)
		if err == nil || errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Desired(%+v) err = %v, want a config error naming %q", tc.pr, err, tc.mention)
		}
	}
	if _, err := Desired(facts, config.PolicyRouting{}); err != nil {
		t.Errorf("Desired with defaults and a derived gateway: %v", err)
	}
}

func TestSysctlPathKeepsDottedDeviceNames(t *testing.T) {
	w, _ := Desired(Facts{NIC0: nic("eth0.100", true), NIC1: nic("eth1", true, "10.0.3.35/24")}, defaultPR)
	var got *Sysctl
	for i := range w.Sysctls {
		if strings.Contains(w.Sysctls[i].Name, "eth0.100") {
			got = &w.Sysctls[i]
		}
	}
	if got == nil || got.Path != "net/ipv4/conf/eth0.100/rp_filter" || got.Name != "net.ipv4.conf.eth0.100.rp_filter" {
		t.Fatalf("sysctl for eth0.100 = %+v", got)
	}
}
