# Cloud Monitoring for vpclink: log-based metrics from the agents' and the
# reconciler's JSON logs (Ops Agent ships the journal; fields severity, op,
# instance, route, err, message, component, evidence), alert policies on those and on
# the Prometheus metrics that Managed Service for Prometheus scrapes from
# /metrics, and one dashboard.

locals {
  rj = var.reconciler_job

  # A log-based metric as PromQL names it: logging.googleapis.com/user/NAME
  # with the first / as : and every other special character as _ (Cloud
  # Monitoring, "Mapping Cloud Monitoring metrics to PromQL"). Log-based
  # metrics may exist on several resource types, hence monitored_resource.
  log_metric_promql = { for k, m in {
    errors       = google_logging_metric.errors.name
    quota_errors = google_logging_metric.quota_errors.name
  } : k => "logging_googleapis_com:user_${replace(m, "/[^a-zA-Z0-9_]/", "_")}{monitored_resource=\"gce_instance\"}" }

  # The routes quota of each project that holds vpclink routes (a Shared VPC
  # host's quota is the host's). GCE writes the quota limit about once a day
  # (serviceruntime quota/limit: sampled every 86400 s), so a plain selector,
  # which looks back 5 minutes, is empty most of the day: last_over_time over
  # 25 h always holds the latest sample, of the limit and of the usage alike.
  quota_projects = distinct(concat([var.project], var.route_projects))
  quota_selector = "monitored_resource=\"consumer_quota\",service=\"compute.googleapis.com\",quota_metric=\"compute.googleapis.com/routes\",project_id=~\"${join("|", local.quota_projects)}\""
  quota_usage    = "max by (project_id) (last_over_time(serviceruntime_googleapis_com:quota_allocation_usage{${local.quota_selector}}[25h]))"
  quota_limit    = "min by (project_id) (last_over_time(serviceruntime_googleapis_com:quota_limit{${local.quota_selector}}[25h]))"

  # One alert policy per condition, every one a PromQL condition with metric
  # validation off. A Prometheus metric exists only after its first sample,
  # and a log-based metric created in the same apply is not visible to
  # alerting for a while: a condition_threshold on it fails with 404 until
  # then (an open provider issue), so the first apply of a fresh project would
  # fail. PromQL with validation off is accepted at once and starts matching
  # when data arrives.
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
      query    = "${local.quota_usage} / ${local.quota_limit} > ${var.quota_usage_ratio}"
      duration = "0s"
      doc      = "A project's routes quota is nearly used (project_id says which: the forwarders' project or a Shared VPC host where vpclink writes routes). Each forwarder adds one route per destination range and network, and a rolling update briefly adds more. Raise the quota or reduce ranges before scaling out."
    }
    reconcile_errors = {
      display  = "reconcile passes failing"
      severity = "ERROR"
      query    = "sum(increase(vpclink_reconcile_errors_total{job=\"${local.rj}\"}[10m])) > 0"
      duration = var.reconcile_errors_for
      doc      = "The reconciler's passes have kept failing (vpclink_reconcile_errors_total grew throughout the last ${var.reconcile_errors_for}). A failing pass prunes and restores nothing for the groups it could not read. Read jsonPayload.err of the reconciler's log lines (PERMISSION_DENIED: its role; a deleted MIG: its config's groups)."
    }
    last_success_stale = {
      display  = "no successful reconcile pass"
      severity = "CRITICAL"
      query    = "time() - max(vpclink_reconciler_last_success_timestamp_seconds{job=\"${local.rj}\"}) > ${var.last_success_max_age_seconds}"
      duration = "0s"
      doc      = "No reconciler replica has finished a pass for more than ${var.last_success_max_age_seconds} s: a dead forwarder's routes stay until one does. A replica whose passes fail also fails its /healthz, so MIG autohealing recreates it; if this persists, the cause is shared (credentials, API access, config): see the reconciler's logs, jsonPayload.err."
    }
    quota_errors = {
      display  = "quota or rate-limit errors"
      severity = "WARNING"
      query    = "sum by (op) (increase(${local.log_metric_promql.quota_errors}[5m])) > 0"
      duration = "0s"
      doc      = "GCE answered a vpclink call with a quota or rate-limit error (QUOTA_EXCEEDED, rateLimitExceeded, 429), counted from log lines whose jsonPayload.err says so. Calls are retried with backoff; a route insert that hits the routes quota keeps failing until quota is freed or raised."
    }
    error_logs = {
      display  = "failures logged"
      severity = "WARNING"
      query    = "sum by (component, op) (increase(${local.log_metric_promql.errors}[10m])) > ${var.route_error_threshold}"
      duration = "0s"
      doc      = "vpclink logged more failures (lines with an err field) than route_error_threshold in 10 minutes. Filter the logs on jsonPayload.op and read jsonPayload.err."
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

  # Not needed for the first apply (validation is off), but a destroy then
  # removes the policies before the metrics they read.
  depends_on = [google_logging_metric.errors, google_logging_metric.quota_errors, google_logging_metric.prunes]

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

# The metrics scope of `project` must hold the route projects for the routes
# quota alert to see their quota (and their forwarders' logs and metrics).
resource "google_monitoring_monitored_project" "route_projects" {
  for_each = var.add_route_projects_to_scope ? toset([for p in var.route_projects : p if p != var.project]) : toset([])

  metrics_scope = "locations/global/metricsScopes/${var.project}"
  name          = each.value
}
