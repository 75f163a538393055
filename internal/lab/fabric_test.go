package lab

import (
	"fmt"
	"testing"
)

func TestWanted(t *testing.T) {
	r := func(network, dest string, prio uint32, hop string) FabricRoute {
		return FabricRoute{Network: network, DestRange: dest, Priority: prio, NextHop: hop}
	}
	cases := []struct {
		name   string
		routes []FabricRoute
		want   string
	}{
		{"none", nil, "map[]"},
		{"equal priority is multipath, sorted, deduplicated",
			[]FabricRoute{r("vpc-a", VPCBRange, 900, "10.0.1.3"), r("vpc-a", VPCBRange, 900, "10.0.1.2"), r("vpc-a", VPCBRange, 900, "10.0.1.3")},
			"map[vpc-a:map[10.19.16.0/20:[10.0.1.2 10.0.1.3]]]"},
		{"lowest priority number wins",
			[]FabricRoute{r("vpc-a", VPCBRange, 1000, "10.0.1.9"), r("vpc-a", VPCBRange, 900, "10.0.1.2")},
			"map[vpc-a:map[10.19.16.0/20:[10.0.1.2]]]"},
		{"networks and ranges are separate tables",
			[]FabricRoute{r("vpc-a", VPCBRange, 900, "10.0.1.2"), r("vpc-b", VPCARange, 900, "10.19.17.2"), r("vpc-b", "10.1.0.0/16", 100, "10.19.17.3")},
			"map[vpc-a:map[10.19.16.0/20:[10.0.1.2]] vpc-b:map[10.0.0.0/16:[10.19.17.2] 10.1.0.0/16:[10.19.17.3]]]"},
		{"a route without an address is no next hop",
			[]FabricRoute{r("vpc-a", VPCBRange, 900, "")},
			"map[]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(Wanted(c.routes)); got != c.want {
			t.Errorf("%s: Wanted = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestMaskLenAndPrefixPID(t *testing.T) {
	for mask, want := range map[string]int{"255.255.255.0": 24, "255.255.240.0": 20, "255.255.255.255": 32, "": 24, "16": 16} {
		if got, err := maskLen(mask); err != nil || got != want {
			t.Errorf("maskLen(%q) = %d, %v; want %d", mask, got, err, want)
		}
	}
	for _, bad := range []string{"255.0.255.0", "nonsense"} {
		if _, err := maskLen(bad); err == nil {
			t.Errorf("maskLen(%q) accepted", bad)
		}
	}
	for ns, want := range map[string]int{"vl-123-client": 123, "vl-7-f12": 7, "vl-x-client": 0, "other-1-x": 0, "vl-12": 0} {
		if got, _ := prefixPID(ns); got != want {
			t.Errorf("prefixPID(%q) = %d, want %d", ns, got, want)
		}
	}
}
