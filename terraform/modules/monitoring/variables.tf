variable "project" {
  description = "Project whose Cloud Monitoring workspace holds the metrics, alerts and dashboard (where the forwarders and reconciler log)."
  type        = string
}

variable "name" {
  description = "Prefix of display names and log-based metric names."
  type        = string
  default     = "vpclink"
}

variable "notification_channels" {
  description = "Notification channel ids (projects/P/notificationChannels/N) every alert notifies."
  type        = list(string)
  default     = []
}

variable "reconciler_job" {
  description = "Prometheus job label of the reconciler's /metrics (the reconciler module's metrics_job)."
  type        = string
  default     = "vpclink-reconciler"
}

variable "agent_job" {
  description = "Prometheus job label of the agents' /metrics."
  type        = string
  default     = "vpclink-agent"
}

variable "min_healthy_forwarders" {
  description = "Alert when a group has fewer healthy forwarders than this for healthy_for."
  type        = number
  default     = 2

  validation {
    condition     = var.min_healthy_forwarders >= 0 && floor(var.min_healthy_forwarders) == var.min_healthy_forwarders
    error_message = "min_healthy_forwarders must be a whole number >= 0."
  }
}

variable "healthy_for" {
  description = "How long healthy forwarders must stay below min_healthy_forwarders before the alert opens (covers a rolling update's one-at-a-time dip)."
  type        = string
  default     = "300s"
}

variable "unwanted_route_states" {
  description = "Values of vpclink_owned_routes' state label for routes that should not exist: held (kept only by fail static) and pruning (a delete is planned)."
  type        = list(string)
  default     = ["held", "pruning"]
}

variable "unwanted_routes_for" {
  description = "How long an owned route that should not exist may stay before the alert opens."
  type        = string
  default     = "120s"
}

variable "reconciler_absent_for" {
  description = "How long the reconciler's metrics may be missing before the alert opens."
  type        = string
  default     = "300s"
}

variable "route_error_threshold" {
  description = "Alert when more than this many route operations failed in 10 minutes (errors are retried, so a few are normal under API faults)."
  type        = number
  default     = 5
}

variable "quota_usage_ratio" {
  description = "Alert when the project's routes quota is used beyond this fraction."
  type        = number
  default     = 0.8

  validation {
    condition     = var.quota_usage_ratio > 0 && var.quota_usage_ratio <= 1
    error_message = "quota_usage_ratio must be in (0, 1]."
  }
}

variable "route_projects" {
  description = "Projects besides `project` where vpclink writes routes (a Shared VPC host): their routes quota is watched too, and they are added to `project`'s metrics scope (add_route_projects_to_scope)."
  type        = list(string)
  default     = []
}

variable "add_route_projects_to_scope" {
  description = "Add route_projects to the metrics scope of `project` (google_monitoring_monitored_project; needs monitoring.metricsScopes.link on `project` and roles/monitoring.viewer-level access to each). False: they are in the scope already, or are added elsewhere."
  type        = bool
  default     = true
}

variable "reconcile_errors_for" {
  description = "How long reconcile errors must keep growing (vpclink_reconcile_errors_total over 10 minutes) before the alert opens."
  type        = string
  default     = "300s"
}

variable "last_success_max_age_seconds" {
  description = "Alert when no reconciler replica has finished a pass for longer than this (vpclink_reconciler_last_success_timestamp_seconds)."
  type        = number
  default     = 300

  validation {
    condition     = var.last_success_max_age_seconds >= 30
    error_message = "last_success_max_age_seconds must be at least 30 (a pass every 10 s by default)."
  }
}
