output "alert_policies" {
  description = "Alert policy ids by condition."
  value       = { for k, p in google_monitoring_alert_policy.promql : k => p.id }
}

output "log_metrics" {
  description = "Log-based metric types."
  value = [for m in [google_logging_metric.errors, google_logging_metric.quota_errors, google_logging_metric.prunes] :
  "logging.googleapis.com/user/${m.name}"]
}

output "dashboard" {
  description = "Dashboard id."
  value       = google_monitoring_dashboard.vpclink.id
}
