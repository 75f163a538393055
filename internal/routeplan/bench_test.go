package routeplan

import (
	"fmt"
	"testing"

	"github.com/vpclink/vpclink/internal/instanceid"
)

// BenchmarkCompute1000x10 is the pure planning cost of one steady pass over
// 1,000 healthy forwarders with 10 routes each, every route present: the
// part of a reconcile pass that is not API reads.
func BenchmarkCompute1000x10(b *testing.B) {
	var fws []fw
	var routes []string
	var wants []string
	for i := range 10 {
		wants = append(wants, fmt.Sprintf("10.19.%d.0/24", i))
	}
	for id := instanceid.ID(1); id <= 1000; id++ {
		fws = append(fws, fw{name: fmt.Sprintf("fwd-%d", id), id: id, verdict: Healthy, wants: wants})
		for _, w := range wants {
			routes = append(routes, fmt.Sprintf("%d %s", id, w))
		}
	}
	in := build(baseConfig(), fws, routes)
	b.ReportAllocs()
	for b.Loop() {
		if p := Compute(in); len(p.Actions) != 0 {
			b.Fatalf("steady plan has %d actions", len(p.Actions))
		}
	}
}
