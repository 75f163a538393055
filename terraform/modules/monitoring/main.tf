# Cloud Monitoring for vpclink: log-based metrics from the agents' and the
# reconciler's JSON logs (Ops Agent ships the journal; fields severity, op,
# instance, route, err, message, component, evidence), alert policies on those and on
# the Prometheus metrics that Managed Service for Prometheus scrapes from
# /metrics (PromQL conditions), and one dashboard.

locals {
  rj = var.reconciler_job

  # One alert policy per condition. PromQL runs over Managed Service for
  # Prometheus; metric validation is off because a metric exists only after
  # its first sample (a fresh project would otherwise reject the policy).
  promql_alerts = {
    forwarder_pruned = {
      display  = "forwarder pruned"
      severity = "WARNING"
      query    = "sum(increase(vpclink_detection_to_prune_seconds_count{job=\"${local.rj}\"}[5m])) > 0"
      duration = "0s"
      doc      = "The reconciler deleted the routes of a forwarder that stopped answering its probes (a panic, a hung agent, a cut network); API-evidence prunes of deleted or recreated VMs do not count here. Traffic moved to the remaining forwarders. Check which one with `vpclink status` and the reconciler's logs (jsonPayload.instance); MIG autohealing recreates a panicked VM within minutes."
    }
    fail_static = {
      display  = "fail static engaged"
      severity = "CRITICAL"
      query    = "max(vpclink_fail_static{job=\"${local.rj}\"}) > 0"
      duration = "60s"
      doc      = "Fewer than minHealthyFraction of a group's RUNNING forwarders answer the reconciler's probes, so it prunes nothing on probe evidence. Either many forwarders are down (check the MIG) or the reconciler is cut off from them (firewall rule for probes, its VPC A subnet). Dead forwarders' routes stay until this clears or the API shows them gone."
    }
    unwanted_routes = {
      display  = "owned routes that should not exist"
      severity = "ERROR"
      query    = "max(vpclink_owned_routes{job=\"${local.rj}\",state=~\"${join("|", var.unwanted_route_states)}\"}) > 0"
      duration = var.unwanted_routes_for
      doc      = "vpclink-owned routes whose forwarder is gone, replaced or unhealthy have existed longer than expected: the reconciler is failing to delete them (see route operation errors, quota, fail static). `vpclink plan` shows what it would do; `scripts/routes` lists them."
    }
    healthy_forwarders_low = {
      display  = "healthy forwarders below ${var.min_healthy_forwarders}"
      severity = "ERROR"
      query    = "max by (group) (vpclink_forwarders{job=\"${local.rj}\",state=\"healthy\"}) < ${var.min_healthy_forwarders}"
      duration = var.healthy_for
      doc      = "A forwarder group has fewer healthy forwarders than wanted: less forwarding capacity and less redundancy. Check the MIG (gcloud compute instance-groups managed list-instances), the agents' logs and `vpclink status`."
    }
    reconciler_absent = {
      display  = "reconciler absent"
      severity = "CRITICAL"
      query    = "absent(vpclink_fail_static{job=\"${local.rj}\"})"
      duration = var.reconciler_absent_for
      doc      = "No reconciler has reported metrics: nobody prunes a dead forwarder's routes, so a panic blackholes its share of flows until autohealing. Check the reconciler MIG and `journalctl -u vpclink-reconciler` on its VMs."
    }
    route_operation_errors = {
      display  = "route operation errors"
      severity = "WARNING"
      query    = "sum by (op) (increase(vpclink_route_operations_total{result=\"error\"}[10m])) > ${var.route_error_threshold} or sum by (op) (increase(vpclink_agent_route_operations_total{result=\"error\"}[10m])) > ${var.route_error_threshold}"
      duration = "0s"
      doc      = "Route inserts or deletes are failing (agents or reconciler; retried with backoff). Look at jsonPayload.err in the logs: PERMISSION_DENIED means the custom role lacks a permission, QUOTA_EXCEEDED the routes quota, 429/rateLimitExceeded API rate limits."
    }
    routes_quota = {
      display  = "routes quota above ${floor(var.quota_usage_ratio * 100)}%"
      severity = "WARNING"
      query    = "max(serviceruntime_googleapis_com:quota_allocation_usage{monitored_resource=\"consumer_quota\",quota_metric=\"compute.googleapis.com/routes\"}) / min(serviceruntime_googleapis_com:quota_limit{monitored_resource=\"consumer_quota\",quota_metric=\"compute.googleapis.com/routes\"}) > ${var.quota_usage_ratio}"
      duration = "300s"
      doc      = "The project's routes quota is nearly used: each forwarder adds one route per destination range and network, and a rolling update briefly adds more. Raise the quota or reduce ranges before scaling out."
    }
  }

  log_filter_base = "resource.type=\"gce_instance\" AND jsonPayload.component=(\"agent\" OR \"dataplane\" OR \"reconciler\")"
}

resource "google_logging_metric" "errors" {
  project     = var.project
  name        = "${var.name}/errors"
  description = "vpclink failures: agent, data plane and reconciler log lines that carry an err field (failed calls are logged at WARNING and retried)"
  filter      = "${local.log_filter_base} AND jsonPayload.err:*"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "component"
      value_type = "STRING"
    }
    labels {
      key        = "op"
      value_type = "STRING"
    }
    labels {
      key        = "instance"
      value_type = "STRING"
    }
  }

  label_extractors = {
    component = "EXTRACT(jsonPayload.component)"
    op        = "EXTRACT(jsonPayload.op)"
    instance  = "EXTRACT(jsonPayload.instance)"
  }
}

resource "google_logging_metric" "quota_errors" {
  project     = var.project
  name        = "${var.name}/quota_errors"
  description = "vpclink log lines whose err reports a quota or rate limit"
  filter      = "${local.log_filter_base} AND jsonPayload.err=~\"QUOTA_EXCEEDED|quotaExceeded|rateLimitExceeded|RESOURCE_EXHAUSTED|(^| )429( |$)\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "op"
      value_type = "STRING"
    }
  }

  label_extractors = {
    op = "EXTRACT(jsonPayload.op)"
  }
}

resource "google_logging_metric" "prunes" {
  project     = var.project
  name        = "${var.name}/prunes"
  description = "Routes the reconciler deleted (op delete without err), by forwarder and evidence"
  filter      = "resource.type=\"gce_instance\" AND jsonPayload.component=\"reconciler\" AND jsonPayload.op=\"delete\" AND NOT jsonPayload.err:*"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "instance"
      value_type = "STRING"
    }
    labels {
      key        = "evidence"
      value_type = "STRING"
    }
  }

  label_extractors = {
    instance = "EXTRACT(jsonPayload.instance)"
    evidence = "EXTRACT(jsonPayload.evidence)"
  }
}

resource "google_monitoring_alert_policy" "promql" {
  for_each = local.promql_alerts

  project               = var.project
  display_name          = "${var.name}: ${each.value.display}"
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = var.notification_channels
  user_labels           = { app = "vpclink", alert = each.key }

  conditions {
    display_name = each.value.display

    condition_prometheus_query_language {
      query                     = each.value.query
      duration                  = each.value.duration
      evaluation_interval       = "30s"
      disable_metric_validation = true
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }
}

# Log-based alerts: they work even when /metrics is not scraped.
resource "google_monitoring_alert_policy" "quota_errors" {
  project               = var.project
  display_name          = "${var.name}: quota or rate-limit errors"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = { app = "vpclink", alert = "quota_errors" }

  conditions {
    display_name = "quota or rate-limit errors logged"

    condition_threshold {
      filter          = "resource.type=\"gce_instance\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.quota_errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.op"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    content   = "GCE answered a vpclink call with a quota or rate-limit error (QUOTA_EXCEEDED, rateLimitExceeded, 429). Calls are retried with backoff; a route insert that hits the routes quota keeps failing until quota is freed or raised."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "error_logs" {
  project               = var.project
  display_name          = "${var.name}: failures logged"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = { app = "vpclink", alert = "error_logs" }

  conditions {
    display_name = "agent, data plane or reconciler failures"

    condition_threshold {
      filter          = "resource.type=\"gce_instance\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.route_error_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.component", "metric.label.op"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    content   = "vpclink logged more failures (lines with an err field) than route_error_threshold in 10 minutes. Filter the logs on jsonPayload.op and read jsonPayload.err."
    mime_type = "text/markdown"
  }
}
