package lab

import (
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

func TestMinCarrying(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	a := func(id uint64) string {
		return naming.RouteName(RoutePrefix, instanceid.ID(id), Project, NetworkA, VPCBRange)
	}
	b := func(id uint64) string {
		return naming.RouteName(RoutePrefix, instanceid.ID(id), Project, NetworkB, VPCARange)
	}
	on := func(route string, s int) gcefake.EffectiveChange {
		return gcefake.EffectiveChange{Route: route, Effective: true, At: at(s)}
	}
	off := func(route string, s int) gcefake.EffectiveChange {
		return gcefake.EffectiveChange{Route: route, Effective: false, At: at(s)}
	}
	two := []gcefake.EffectiveChange{on(a(1), 0), on(b(1), 0), on(a(2), 1), on(b(2), 1)}
	tests := []struct {
		name     string
		log      []gcefake.EffectiveChange
		from, to int
		want     int
	}{
		{"steady", two, 5, 10, 2},
		{"surge then drain", append(two[:4:4], on(a(3), 6), on(b(3), 7), off(a(1), 8), off(b(1), 9)), 5, 10, 2},
		{"drain before the surge", append(two[:4:4], off(a(1), 6), off(b(1), 6), on(a(3), 7), on(b(3), 8)), 5, 10, 1},
		{"one network is not carrying", append(two[:4:4], off(b(2), 6), on(b(2), 7)), 5, 10, 1},
		{"alike stamps are one moment", append(two[:4:4], off(a(1), 6), on(a(1), 6)), 5, 10, 2},
		{"outside the window", append(two[:4:4], off(a(1), 2), on(a(1), 3), off(a(2), 11)), 5, 10, 2},
		{"window opens low", append(two[:4:4], off(a(1), 3)), 5, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MinCarrying(tt.log, at(tt.from), at(tt.to)); got != tt.want {
				t.Errorf("MinCarrying = %d, want %d", got, tt.want)
			}
		})
	}
}
