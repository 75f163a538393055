# The VM's own service account, with one custom role per project it writes
# routes in: the permissions the caller lists and nothing else.

locals {
  route_projects = toset(concat([var.project], var.route_projects))
  role_title     = "vpclink ${local.service} (${var.name})"
}

resource "google_service_account" "this" {
  project      = var.project
  account_id   = var.name
  display_name = coalesce(var.account_display_name, local.role_title)
}

resource "google_project_iam_custom_role" "this" {
  for_each = local.route_projects

  project     = each.value
  role_id     = var.role.id
  title       = local.role_title
  description = var.role.description
  permissions = var.role.permissions
}

resource "google_project_iam_member" "this" {
  for_each = local.route_projects

  project = each.value
  role    = google_project_iam_custom_role.this[each.value].id
  member  = google_service_account.this.member
}

# The Ops Agent ships the journal and /metrics; these are the predefined
# writer-only roles for that, nothing more.
resource "google_project_iam_member" "telemetry" {
  for_each = var.ops_agent ? toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"]) : toset([])

  project = var.project
  role    = each.value
  member  = google_service_account.this.member
}
