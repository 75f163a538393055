output "self_link_unique" {
  description = "Self link (unique) of the current template: what a MIG version points at."
  value       = google_compute_instance_template.this.self_link_unique
}

output "id" {
  description = "Id of the template."
  value       = google_compute_instance_template.this.id
}

# What the public modules' tests assert on (terraform test reaches a child
# module only through its outputs).

output "metadata" {
  description = "The template's metadata: startup-script, the vpclink-* attributes, enable-oslogin and the caller's extras."
  value       = google_compute_instance_template.this.metadata
}

output "subnetworks" {
  description = "Subnetwork of each NIC, in NIC order."
  value       = google_compute_instance_template.this.network_interface[*].subnetwork
}

output "can_ip_forward" {
  description = "Whether the VMs may forward packets not addressed to them."
  value       = google_compute_instance_template.this.can_ip_forward
}

output "service_account_email" {
  description = "Email of the VMs' service account."
  value       = google_service_account.this.email
}

output "service_account_member" {
  description = "IAM member string of the VMs' service account (serviceAccount:EMAIL)."
  value       = google_service_account.this.member
}

output "service_account_id" {
  description = "Resource id of the VMs' service account (for bindings on the account itself)."
  value       = google_service_account.this.name
}

output "binary_read" {
  description = "The conditional binding that grants read on the binary's object (the resource, for tests), or null for an https:// URL."
  value       = one(google_storage_bucket_iam_member.binary)
}

output "role_id" {
  description = "Id of the custom role (the same in every project)."
  value       = var.role.id
}

output "role_ids" {
  description = "The custom role per project."
  value       = { for p, r in google_project_iam_custom_role.this : p => r.id }
}

output "role_permissions" {
  description = "Permissions of the custom role per project."
  value       = { for p, r in google_project_iam_custom_role.this : p => r.permissions }
}

output "telemetry_roles" {
  description = "Predefined roles granted for the Ops Agent (none without it)."
  value       = sort(keys(google_project_iam_member.telemetry))
}

output "health_check" {
  description = "The autohealing health check (the resource: tests assert on its fields; the group uses .id)."
  value       = google_compute_health_check.this
}

output "health_check_firewall" {
  description = "The firewall rule admitting Google's health checkers: where it applies and what it admits (for tests)."
  value = {
    project                 = google_compute_firewall.health_checks.project
    network                 = google_compute_firewall.health_checks.network
    source_ranges           = google_compute_firewall.health_checks.source_ranges
    target_service_accounts = google_compute_firewall.health_checks.target_service_accounts
    allow                   = google_compute_firewall.health_checks.allow
  }
}
