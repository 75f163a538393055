output "group_name" {
  description = "Name of the forwarder MIG (scripts/rolling_update GROUP, reconciler groups[].name)."
  value       = google_compute_region_instance_group_manager.forwarders.name
}

output "region" {
  description = "Region of the forwarder MIG (reconciler groups[].region)."
  value       = var.region
}

output "instance_group" {
  description = "URL of the group's instances (instance group, not the manager)."
  value       = google_compute_region_instance_group_manager.forwarders.instance_group
}

output "service_account_email" {
  description = "The forwarders' service account: target of the reconciler's probe firewall rule; grant it read on the vpclink binary."
  value       = module.vm.service_account_email
}

output "role_ids" {
  description = "The agent's custom role per project."
  value       = module.vm.role_ids
}

output "agent_permissions" {
  description = "Permissions the agent's custom role holds."
  value       = local.agent_permissions
}

output "instance_template" {
  description = "Self link (unique) of the current instance template."
  value       = module.vm.self_link_unique
}

output "health_check" {
  description = "Autohealing health check (agent /healthz)."
  value       = module.vm.health_check.id
}

output "agent_config" {
  description = "The vpclink-config metadata (YAML) every forwarder reads."
  value       = local.agent_config
}

output "nic0_network" {
  description = "VPC A network (where the reconciler probes forwarders)."
  value       = var.nic0.network
}

output "nic0_project" {
  description = "Project of the VPC A network (firewall rules go there)."
  value       = local.nic0_project
}

output "route_prefix" {
  description = "routePrefix the agents use."
  value       = var.route_prefix
}

output "health_port" {
  description = "Port of the agents' /healthz, /readyz, /status, /metrics."
  value       = var.health_port
}

output "operator_role" {
  description = "The operator role for drain, undrain, rollout, status and plan: role id per project, and its permissions."
  value = {
    ids         = { for p, r in google_project_iam_custom_role.operator : p => r.id }
    permissions = local.operator_permissions
  }
}
