package reconciler

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpclink/vpclink/internal/routeplan"
)

var forwarderStates = []routeplan.State{routeplan.StateHealthy, routeplan.StateUnhealthy, routeplan.StateStarting,
	routeplan.StateDraining, routeplan.StateDown}

type metrics struct {
	forwarders          *prometheus.GaugeVec
	ownedRoutes         *prometheus.GaugeVec
	operations          *prometheus.CounterVec
	passDuration        prometheus.Histogram
	passErrors          prometheus.Counter
	failStatic          prometheus.Gauge
	detectionToPrune    prometheus.Histogram
	detectionToIssued   prometheus.Histogram
	lastSuccess         prometheus.Gauge
	restoresCapped      prometheus.Counter
	uncorroborated      prometheus.Gauge
	witnessAsks         prometheus.Counter
	witnessAsksDeferred prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		forwarders: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vpclink_forwarders", Help: "Forwarders of the configured groups by state (healthy, unhealthy, starting, draining, down).",
		}, []string{"state"}),
		ownedRoutes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vpclink_owned_routes", Help: "Owned routes in scope by state (active, held for lack of corroboration, pruning).",
		}, []string{"state"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpclink_route_operations_total", Help: "Route inserts and deletes by result (ok, error).",
		}, []string{"op", "result"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vpclink_reconcile_duration_seconds", Help: "Duration of a reconcile pass: reads, plan and actions.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		passErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vpclink_reconcile_errors_total", Help: "Reconcile passes, and groups within a pass, whose API reads failed (retried next round).",
		}),
		failStatic: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vpclink_fail_static", Help: "1 while at least one forwarder's probe-evidence prune is held for lack of corroboration.",
		}),
		detectionToPrune: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vpclink_detection_to_prune_seconds",
			Help:    "From the failed probe that started a streak to the DONE delete of the forwarder's route.",
			Buckets: []float64{0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 60, 120},
		}),
		detectionToIssued: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vpclink_detection_to_delete_issued_seconds",
			Help:    "From the verdict that a forwarder is Unhealthy to the delete call for one of its routes: what the reconciler adds before GCE starts working.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
		restoresCapped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vpclink_restores_capped_total",
			Help: "Restores a pass left for later passes because of restore.maxPerForwarder or restore.maxPerPass.",
		}),
		uncorroborated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vpclink_uncorroborated_forwarders",
			Help: "Forwarders whose probe-evidence prune is held because no second vantage point agrees (no peer asked, none reachable, or peers see them answer).",
		}),
		witnessAsks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vpclink_witness_asks_total", Help: "Requests to group peers to probe a suspect forwarder (GET /peer-probe).",
		}),
		witnessAsksDeferred: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vpclink_witness_asks_deferred_total",
			Help: "Suspects not asked about at once because every corroboration slot was busy (a correlated failure of many forwarders).",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vpclink_reconciler_last_success_timestamp_seconds",
			Help: "Unix time of the end of the last reconcile pass that read every group; 0 until one has.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.forwarders, m.ownedRoutes, m.operations, m.passDuration, m.passErrors, m.failStatic,
			m.detectionToPrune, m.detectionToIssued, m.lastSuccess, m.restoresCapped,
			m.uncorroborated, m.witnessAsks, m.witnessAsksDeferred)
	}
	for _, s := range forwarderStates {
		m.forwarders.WithLabelValues(string(s))
	}
	for _, op := range []routeplan.Op{routeplan.OpInsert, routeplan.OpDelete} {
		m.operations.WithLabelValues(string(op), "ok")
		m.operations.WithLabelValues(string(op), "error")
	}
	return m
}

// observePlan sets the gauges from a plan.
func (m *metrics) observePlan(p routeplan.Decision) {
	counts := map[routeplan.State]int{}
	for _, f := range p.Forwarders {
		counts[f.State]++
	}
	for _, s := range forwarderStates {
		m.forwarders.WithLabelValues(string(s)).Set(float64(counts[s]))
	}
	for _, s := range []routeplan.RouteState{routeplan.RouteActive, routeplan.RouteHeld, routeplan.RoutePruning} {
		m.ownedRoutes.WithLabelValues(string(s)).Set(float64(p.RouteStates[s]))
	}
	m.uncorroborated.Set(float64(len(p.Uncorroborated)))
	if p.FailStatic.Engaged {
		m.failStatic.Set(1)
	} else {
		m.failStatic.Set(0)
	}
}
