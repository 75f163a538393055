package lab

import (
	"fmt"
	"strings"
	"testing"
)

func TestILBCheckThresholds(t *testing.T) {
	// The traffic check: 2 passes to turn healthy, 2 failures to turn
	// unhealthy, a new backend unhealthy until then.
	cases := []struct {
		results string // p = pass, f = fail
		healthy string // verdict after each result
	}{
		{"pp", "-H"},
		{"pfpp", "---H"},
		{"ppf", "-HH"},
		{"ppff", "-HH-"},
		{"ppfpf", "-HHHH"},
		{"ffpp", "---H"},
	}
	for _, c := range cases {
		var ch ilbCheck
		var got strings.Builder
		for _, r := range c.results {
			ch.record(r == 'p')
			if ch.healthy {
				got.WriteByte('H')
			} else {
				got.WriteByte('-')
			}
		}
		if got.String() != c.healthy {
			t.Errorf("%s: verdicts %s, want %s", c.results, got.String(), c.healthy)
		}
	}
}

func TestPlanILB(t *testing.T) {
	render := func(p ilbPlan) string {
		return fmt.Sprintf("tcp %x keep %x select %x", p.KeepTCP, p.Keep, p.Select)
	}
	cases := []struct {
		name     string
		backends []ilbBackend
		want     string
	}{
		{"none", nil, "tcp [] keep [] select []"},
		{"all healthy", []ilbBackend{{Mark: 0x102, Healthy: true}, {Mark: 0x101, Healthy: true}},
			"tcp [101 102] keep [101 102] select [101 102]"},
		// TCP persists on an unhealthy backend, UDP does not; new flows
		// avoid it.
		{"one unhealthy", []ilbBackend{{Mark: 0x101, Healthy: true}, {Mark: 0x102}, {Mark: 0x103, Healthy: true}},
			"tcp [101 102 103] keep [101 103] select [101 103]"},
		// Last resort: all unhealthy means all take traffic.
		{"all unhealthy", []ilbBackend{{Mark: 0x101}, {Mark: 0x102}},
			"tcp [101 102] keep [101 102] select [101 102]"},
	}
	for _, c := range cases {
		if got := render(planILB(c.backends)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestILBPlanRules(t *testing.T) {
	p := planILB([]ilbBackend{{IP: "10.0.1.2", Mark: 0x101, Healthy: true}, {IP: "10.0.1.3", Mark: 0x102}})
	got := p.nft("10.19.16.0/20", "fwd")
	for _, want := range []string{
		"flush chain ip vpclink_ilb pre\n", // refilled in place, in one transaction
		"add rule ip vpclink_ilb pre iifname \"fwd\" return",
		"add rule ip vpclink_ilb pre ip daddr != 10.19.16.0/20 return",
		"add element ip vpclink_ilb keep_tcp { 0x101, 0x102 }",
		"add element ip vpclink_ilb keep { 0x101 }",
		"mod 1 seed 0x5eed map { 0 : 0x101 }",
		"ct mark set meta mark",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rules lack %q:\n%s", want, got)
		}
	}
	if empty := (ilbPlan{}).nft("10.19.16.0/20", "fwd"); strings.Contains(empty, "jhash") {
		t.Errorf("no backends, yet a selection rule:\n%s", empty)
	}
}

func TestNextMark(t *testing.T) {
	m, err := nextMark(0, nil)
	if err != nil || m != 0x101 {
		t.Fatalf("first mark %#x, %v; want 0x101", m, err)
	}
	m, err = nextMark(0x1ff, map[uint32]bool{0x100: true})
	if err != nil || m != 0x101 {
		t.Fatalf("after 0x1ff with 0x100 in use: %#x, %v; want 0x101", m, err)
	}
	full := map[uint32]bool{}
	for i := uint32(0); i < ilbMarkCount; i++ {
		full[ilbMarkFirst+i] = true
	}
	if _, err := nextMark(0x150, full); err == nil {
		t.Fatal("all marks in use, yet a mark")
	}
}
