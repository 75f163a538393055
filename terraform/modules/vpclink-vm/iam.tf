# The VM's own service account, with one custom role per project it writes
# routes in: the permissions the caller lists and nothing else.

locals {
  route_projects = toset(concat([var.project], var.route_projects))
  role_title     = "vpclink ${local.service} (${var.name})"

  # Account ids are 6-30 characters, [a-z] then [-a-z0-9], while group names
  # here may be 1-40: the name where it fits; a longer one cut to 21
  # characters plus 8 hex digits of its SHA-256 (two long names sharing a
  # prefix stay apart); a shorter one with "-vpclink" appended.
  account_id = (
    length(var.name) > 30 ? "${trimsuffix(substr(var.name, 0, 21), "-")}-${substr(sha256(var.name), 0, 8)}" :
    length(var.name) < 6 ? "${var.name}-vpclink" : var.name
  )

  # gs://BUCKET/OBJECT of the binary; both null for https://.
  binary_gs     = startswith(var.vpclink_url, "gs://") ? trimprefix(var.vpclink_url, "gs://") : null
  binary_bucket = local.binary_gs == null ? null : split("/", local.binary_gs)[0]
  binary_object = local.binary_gs == null ? null : join("/", slice(split("/", local.binary_gs), 1, length(split("/", local.binary_gs))))
}

resource "google_service_account" "this" {
  project      = var.project
  account_id   = local.account_id
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

# Read on the binary's object only, not the bucket: a conditional binding on
# the bucket whose condition names the object (Cloud Storage checks IAM
# conditions on resource.name = projects/_/buckets/B/objects/O, which needs
# uniform bucket-level access). objects.list is checked on the bucket, so the
# condition also keeps the account from listing the other releases.
resource "google_storage_bucket_iam_member" "binary" {
  count = var.grant_binary_read && local.binary_bucket != null ? 1 : 0

  bucket = local.binary_bucket
  role   = "roles/storage.objectViewer"
  member = google_service_account.this.member

  condition {
    title       = "vpclink binary ${substr(sha256(var.vpclink_url), 0, 8)}"
    description = "Only the object the startup script downloads: ${var.vpclink_url}"
    expression  = "resource.name == \"projects/_/buckets/${local.binary_bucket}/objects/${local.binary_object}\""
  }
}
