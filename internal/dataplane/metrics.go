package dataplane

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/logging"
)

type metrics struct {
	repairs      *prometheus.CounterVec
	passes       *prometheus.CounterVec
	fights       *prometheus.CounterVec
	errors       prometheus.Counter
	ready        prometheus.Gauge
	passDuration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, log *zap.Logger) *metrics {
	m := &metrics{
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpclink_agent_dataplane_repairs_total",
			Help: "Data-plane passes that changed the kernel, by what prompted the pass.",
		}, []string{"cause"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpclink_agent_dataplane_passes_total",
			Help: "Data-plane passes (read, compare, repair), by what prompted them (event passes count as event).",
		}, []string{"cause"}),
		fights: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpclink_agent_dataplane_fights_total",
			Help: "Repairs of an object that was repaired less than 10s before: something else keeps undoing it. By kind (rule, route, sysctl).",
		}, []string{"kind"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vpclink_agent_dataplane_errors_total",
			Help: "Data-plane passes that failed to read or change the kernel.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vpclink_agent_dataplane_ready",
			Help: "1 when the kernel matched the complete wanted data plane after the last pass.",
		}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vpclink_agent_dataplane_pass_duration_seconds",
			Help:    "Time of one data-plane pass: read, plan, apply, read back.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	if reg == nil {
		return m
	}
	for _, c := range []prometheus.Collector{m.repairs, m.passes, m.fights, m.errors, m.ready, m.passDuration} {
		if err := reg.Register(c); err != nil {
			log.Warn("metric not registered", logging.Op("metrics"), logging.Err(err))
		}
	}
	return m
}

func (m *metrics) setReady(ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.Set(v)
}
