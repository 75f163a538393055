locals {
  # Dashboard charts: [title, PromQL] pairs laid out two per row.
  # Dashboard charts: title and PromQL queries (one line each), two per row.
  dashboard_charts = [
    { title = "Forwarders by state", queries = ["max by (group, state) (vpclink_forwarders{job=\"${local.rj}\"})"] },
    { title = "Owned routes by state", queries = ["max by (state) (vpclink_owned_routes{job=\"${local.rj}\"})"] },
    { title = "Route operations by op and result, reconciler and agents (per second)", queries = [
      "sum by (op, result) (rate(vpclink_route_operations_total[5m]))",
      "sum by (op, result) (rate(vpclink_agent_route_operations_total[5m]))",
    ] },
    { title = "Fail static", queries = ["max(vpclink_fail_static{job=\"${local.rj}\"})"] },
    { title = "Detection to prune, p50 and p99 (s)", queries = [
      for q in ["0.5", "0.99"] : "histogram_quantile(${q}, sum by (le) (rate(vpclink_detection_to_prune_seconds_bucket{job=\"${local.rj}\"}[30m])))"
    ] },
    { title = "Agents ready", queries = ["sum(vpclink_agent_ready{job=\"${var.agent_job}\"})"] },
  ]

  dashboard_tiles = concat(
    [for i, c in local.dashboard_charts : {
      xPos   = (i % 2) * 24
      yPos   = floor(i / 2) * 16
      width  = 24
      height = 16
      widget = {
        title = c.title
        xyChart = {
          chartOptions = { mode = "COLOR" }
          dataSets = [for q in c.queries : {
            plotType        = "LINE"
            targetAxis      = "Y1"
            timeSeriesQuery = { prometheusQuery = q }
          }]
        }
      }
    }],
    [{
      xPos   = 0
      yPos   = ceil(length(local.dashboard_charts) / 2) * 16
      width  = 48
      height = 16
      widget = {
        title = "Errors logged by component and op"
        xyChart = {
          chartOptions = { mode = "COLOR" }
          dataSets = [{
            plotType   = "STACKED_BAR"
            targetAxis = "Y1"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.errors.name}\" resource.type=\"gce_instance\""
                aggregation = {
                  alignmentPeriod    = "60s"
                  perSeriesAligner   = "ALIGN_DELTA"
                  crossSeriesReducer = "REDUCE_SUM"
                  groupByFields      = ["metric.label.component", "metric.label.op"]
                }
              }
            }
          }]
        }
      }
    }],
  )
}

resource "google_monitoring_dashboard" "vpclink" {
  project = var.project
  dashboard_json = jsonencode({
    displayName  = "${var.name}: forwarders and routes"
    mosaicLayout = { columns = 48, tiles = local.dashboard_tiles }
  })
}
