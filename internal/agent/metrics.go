package agent

import "github.com/prometheus/client_golang/prometheus"

// metrics are the agent's own series; the keeper registers its repair
// counter on the same registerer.
type metrics struct {
	routeOps        *prometheus.CounterVec
	announceSeconds prometheus.Gauge
	drainSeconds    prometheus.Gauge
	ready           prometheus.Gauge
	routesWanted    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		routeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpclink_agent_route_operations_total",
			Help: "GCE route calls made by the agent, by op (insert, delete, list) and result (ok, error).",
		}, []string{"op", "result"}),
		announceSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vpclink_agent_announce_duration_seconds",
			Help: "Seconds from agent start until every wanted route was DONE and stale routes were removed.",
		}),
		drainSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vpclink_agent_drain_duration_seconds",
			Help: "Seconds from the stop request until every own route was deleted (DONE).",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vpclink_agent_ready",
			Help: "1 while /readyz answers 200: data plane ready, routes announced, not draining.",
		}),
		routesWanted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vpclink_agent_routes_wanted",
			Help: "GCE routes this forwarder announces.",
		}),
	}
	reg.MustRegister(m.routeOps, m.announceSeconds, m.drainSeconds, m.ready, m.routesWanted)
	return m
}
