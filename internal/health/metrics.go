package health

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	failures *prometheus.CounterVec   // reason
	duration *prometheus.HistogramVec // result
	targets  *prometheus.GaugeVec     // verdict
	lag      prometheus.Histogram
	dropped  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpclink_probe_failures_total",
			Help: "Failed readiness probes, by reason (status, timeout, refused, other).",
		}, []string{"reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vpclink_probe_duration_seconds",
			Help:    "Duration of readiness probes, by result (ok, fail).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"result"}),
		targets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vpclink_probe_targets",
			Help: "Probed targets, by verdict (starting, healthy, unhealthy).",
		}, []string{"verdict"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vpclink_probe_schedule_lag_seconds",
			Help:    "How late probes start against their slot; growth means probing does not keep up.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1},
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vpclink_probe_changes_dropped_total",
			Help: "Verdict changes dropped because the Changes channel was full.",
		}),
	}
	for _, v := range []Verdict{Starting, Healthy, Unhealthy} {
		m.targets.WithLabelValues(v.String())
	}
	if reg != nil {
		reg.MustRegister(m.failures, m.duration, m.targets, m.lag, m.dropped)
	}
	return m
}
