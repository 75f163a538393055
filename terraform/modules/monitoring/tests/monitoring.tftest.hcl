# Plans the module against a mocked google provider.
mock_provider "google" {}

variables {
  project               = "vpclink-test"
  notification_channels = ["projects/vpclink-test/notificationChannels/123"]
}

run "an_alert_policy_per_condition" {
  command = plan

  assert {
    condition = toset(keys(google_monitoring_alert_policy.promql)) == toset([
      "error_logs",
      "fail_static",
      "forwarder_pruned",
      "healthy_forwarders_low",
      "last_success_stale",
      "quota_errors",
      "reconcile_errors",
      "reconciler_absent",
      "route_operation_errors",
      "routes_quota",
      "unwanted_routes",
    ])
    error_message = "every condition needs its alert policy"
  }
  assert {
    condition     = google_monitoring_alert_policy.promql["quota_errors"].conditions[0].condition_prometheus_query_language[0].query == "sum by (op) (increase(logging_googleapis_com:user_vpclink_quota_errors{monitored_resource=\"gce_instance\"}[5m])) > 0"
    error_message = "the quota alert must read the quota_errors log-based metric by its PromQL name"
  }
  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.promql : p.notification_channels == tolist(["projects/vpclink-test/notificationChannels/123"])])
    error_message = "every alert must notify the given channels"
  }
}

run "queries_name_the_metrics" {
  command = plan

  assert {
    condition     = google_monitoring_alert_policy.promql["fail_static"].conditions[0].condition_prometheus_query_language[0].query == "max(vpclink_fail_static{job=\"vpclink-reconciler\"}) > 0"
    error_message = "fail static alert query"
  }
  assert {
    condition     = google_monitoring_alert_policy.promql["unwanted_routes"].conditions[0].condition_prometheus_query_language[0].duration == "120s"
    error_message = "owned routes that should not exist alert after 2 minutes"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["unwanted_routes"].conditions[0].condition_prometheus_query_language[0].query, "vpclink_owned_routes")
    error_message = "unwanted routes alert must read vpclink_owned_routes"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["healthy_forwarders_low"].conditions[0].condition_prometheus_query_language[0].query, "vpclink_forwarders{job=\"vpclink-reconciler\",state=\"healthy\"}) < 2")
    error_message = "healthy forwarders alert must compare against min_healthy_forwarders"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["forwarder_pruned"].conditions[0].condition_prometheus_query_language[0].query, "vpclink_detection_to_prune_seconds_count")
    error_message = "pruned alert must count detection-to-prune observations"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["route_operation_errors"].conditions[0].condition_prometheus_query_language[0].query, "vpclink_route_operations_total")
    error_message = "route operation errors alert must read vpclink_route_operations_total"
  }
  assert {
    condition     = startswith(google_monitoring_alert_policy.promql["reconciler_absent"].conditions[0].condition_prometheus_query_language[0].query, "absent(")
    error_message = "reconciler absent alert must use absent()"
  }
}

run "log_metrics_extract_json_fields" {
  command = plan

  assert {
    condition     = google_logging_metric.errors.label_extractors["op"] == "EXTRACT(jsonPayload.op)"
    error_message = "errors metric must label by jsonPayload.op"
  }
  assert {
    condition     = strcontains(google_logging_metric.errors.filter, "jsonPayload.err:*")
    error_message = "errors metric must count lines that carry an err field"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["unwanted_routes"].conditions[0].condition_prometheus_query_language[0].query, "state=~\"held|pruning\"")
    error_message = "unwanted routes are the reconciler's held and pruning states"
  }
  assert {
    condition     = strcontains(google_logging_metric.quota_errors.filter, "QUOTA_EXCEEDED")
    error_message = "quota metric must match QUOTA_EXCEEDED"
  }
}

run "dashboard_is_valid_json_with_tiles" {
  command = plan

  assert {
    condition     = length(jsondecode(google_monitoring_dashboard.vpclink.dashboard_json).mosaicLayout.tiles) == 7
    error_message = "dashboard must have its seven charts"
  }
}

run "quota_ratio_out_of_range_rejected" {
  command = plan

  variables {
    quota_usage_ratio = 1.5
  }

  expect_failures = [var.quota_usage_ratio]
}

# A condition_threshold on a log-based metric created in the same apply fails
# with 404 until the metric is visible to alerting; a PromQL condition with
# metric validation off is accepted at once. So no policy may use anything
# else, and the log-based alerts read their metrics through PromQL.
run "first_apply_needs_no_metric_to_exist" {
  command = plan

  assert {
    condition = alltrue([for p in google_monitoring_alert_policy.promql :
      length(p.conditions) == 1 &&
      length(p.conditions[0].condition_threshold) == 0 &&
      length(p.conditions[0].condition_prometheus_query_language) == 1 &&
      p.conditions[0].condition_prometheus_query_language[0].disable_metric_validation
    ])
    error_message = "every alert condition must be PromQL with metric validation off"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["error_logs"].conditions[0].condition_prometheus_query_language[0].query, "logging_googleapis_com:user_vpclink_errors{monitored_resource=\"gce_instance\"}")
    error_message = "the failures-logged alert must read the errors log-based metric"
  }
}

run "log_metrics_count_the_err_key" {
  command = plan

  assert {
    condition     = strcontains(google_logging_metric.errors.filter, "jsonPayload.err:*") && strcontains(google_logging_metric.quota_errors.filter, "jsonPayload.err=~") && strcontains(google_logging_metric.prunes.filter, "NOT jsonPayload.err:*")
    error_message = "the log-based metrics must read the single error key, err"
  }
}

# The quota limit is written about once a day: a query without a look-back
# that always holds a sample would be empty most of the time.
run "routes_quota_looks_back_a_day_in_every_route_project" {
  command = plan

  variables {
    route_projects = ["vpc-host"]
  }

  assert {
    condition     = length(regexall("last_over_time\\([^)]*\\[25h\\]\\)", google_monitoring_alert_policy.promql["routes_quota"].conditions[0].condition_prometheus_query_language[0].query)) == 2
    error_message = "usage and limit must both be read with a 25 h look-back"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["routes_quota"].conditions[0].condition_prometheus_query_language[0].query, "project_id=~\"vpclink-test|vpc-host\"")
    error_message = "the routes quota of the Shared VPC host must be watched too"
  }
  assert {
    condition     = keys(google_monitoring_monitored_project.route_projects) == ["vpc-host"]
    error_message = "the host project must join the metrics scope"
  }
}

run "reconciler_passes_alerts" {
  command = plan

  assert {
    condition     = google_monitoring_alert_policy.promql["last_success_stale"].conditions[0].condition_prometheus_query_language[0].query == "time() - max(vpclink_reconciler_last_success_timestamp_seconds{job=\"vpclink-reconciler\"}) > 300"
    error_message = "the stale-pass alert must read the last-success gauge"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.promql["reconcile_errors"].conditions[0].condition_prometheus_query_language[0].query, "increase(vpclink_reconcile_errors_total{job=\"vpclink-reconciler\"}[10m])")
    error_message = "the reconcile errors alert must read vpclink_reconcile_errors_total"
  }
}
