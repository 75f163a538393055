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
      "fail_static",
      "forwarder_pruned",
      "healthy_forwarders_low",
      "reconciler_absent",
      "route_operation_errors",
      "routes_quota",
      "unwanted_routes",
    ])
    error_message = "every condition in the brief needs its PromQL alert policy"
  }
  assert {
    condition     = google_monitoring_alert_policy.quota_errors.conditions[0].condition_threshold[0].filter == "resource.type=\"gce_instance\" AND metric.type=\"logging.googleapis.com/user/vpclink/quota_errors\""
    error_message = "the quota alert must read the quota_errors log-based metric"
  }
  assert {
    condition     = alltrue([for p in google_monitoring_alert_policy.promql : p.notification_channels == tolist(["projects/vpclink-test/notificationChannels/123"])])
    error_message = "every alert must notify the given channels"
  }
  assert {
    condition     = google_monitoring_alert_policy.error_logs.notification_channels == tolist(["projects/vpclink-test/notificationChannels/123"])
    error_message = "the log alert must notify the given channels"
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
