output "group_name" {
  description = "Name of the reconciler MIG."
  value       = google_compute_region_instance_group_manager.reconciler.name
}

output "service_account_email" {
  description = "The reconciler's service account (source of the probe firewall rule)."
  value       = module.vm.service_account_email
}

output "reconciler_permissions" {
  description = "Permissions the reconciler's custom role holds."
  value       = local.reconciler_permissions
}

output "config" {
  description = "The rendered /etc/vpclink/reconciler.yaml."
  value       = local.config
}

output "metrics_job" {
  description = "Prometheus job name of the reconciler's /metrics in Managed Service for Prometheus."
  value       = "vpclink-reconciler"
}
