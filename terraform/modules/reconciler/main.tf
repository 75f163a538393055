# The reconciler: a small regional MIG running vpclink-reconciler.service,
# its service account with a least-privilege custom role, its config file,
# and the firewall rule that lets it (and only it) probe forwarders.

locals {
  # Custom role ids are 3-64 characters of [a-zA-Z0-9_.]; names here may be 1.
  role_id = length(var.name) >= 3 ? replace(var.name, "-", "_") : "${replace(var.name, "-", "_")}_reconciler"

  # What the reconciler does with the Compute API (README.md says why each).
  reconciler_permissions = [
    "compute.globalOperations.get",
    "compute.instanceGroupManagers.get",
    "compute.instances.list",
    "compute.instances.use",
    "compute.networks.updatePolicy",
    "compute.routes.create",
    "compute.routes.delete",
    "compute.routes.get",
    "compute.routes.list",
  ]

  config_path = "/etc/vpclink/reconciler.yaml"

  # DESIGN.md "Reconciler config", keys exactly as the reconciler reads them.
  config = yamlencode({
    project     = var.project
    routePrefix = var.route_prefix
    groups = [for g in var.groups : merge(
      { name = g.name },
      g.zone != null ? { zone = g.zone } : { region = g.region },
    )]
    allow = [for a in var.allow : merge({
      network    = a.network
      project    = a.project
      destRanges = a.dest_ranges
      priority   = { min = a.priority_min, max = a.priority_max }
      }, a.prefix_length_min == null ? {} : {
      prefixLength = { min = a.prefix_length_min, max = a.prefix_length_max }
    })]
    probe = {
      port      = var.probe.port
      path      = var.probe.path
      interval  = var.probe.interval
      timeout   = var.probe.timeout
      failures  = var.probe.failures
      successes = var.probe.successes
    }
    minHealthyFraction = var.min_healthy_fraction
    bootGrace          = var.boot_grace
    interval           = var.interval
    listen             = ":${var.listen_port}"
    healthz            = { failAfter = var.healthz_fail_after }
  })

  network_project = coalesce(var.network.subnetwork_project, var.project)
  zone_count      = length(var.zones) > 0 ? length(var.zones) : 3
}

# The reconciler's service account, custom role, template and autohealing
# check, built like the forwarders' (../vpclink-vm): the startup script
# installs vpclink-reconciler.service and writes vpclink-config to
# vpclink-config-path, which the unit's --config names.
module "vm" {
  source = "../vpclink-vm"

  project        = var.project
  region         = var.region
  name           = var.name
  kind           = "reconciler"
  route_projects = var.route_projects
  role = {
    id          = local.role_id
    description = "Read forwarder groups, prune and restore vpclink routes: see terraform/modules/reconciler/README.md."
    permissions = local.reconciler_permissions
  }

  description        = "vpclink reconciler"
  machine_type       = var.machine_type
  image              = var.image
  labels             = var.labels
  network_interfaces = [var.network]

  vpclink_url       = var.vpclink_url
  vpclink_sha256    = var.vpclink_sha256
  grant_binary_read = var.grant_binary_read
  unit_name         = "vpclink-reconciler.service"
  unit              = var.reconciler_unit
  ops_agent         = var.ops_agent
  port              = var.listen_port
  metadata = {
    "vpclink-config-path" = local.config_path
    "vpclink-config"      = local.config
  }
}

# The reconciler holds no state, so a PROACTIVE update is safe: with two
# replicas one keeps pruning while the other is replaced.
resource "google_compute_region_instance_group_manager" "reconciler" {
  project                   = var.project
  region                    = var.region
  name                      = var.name
  base_instance_name        = var.name
  description               = "vpclink reconciler"
  distribution_policy_zones = length(var.zones) > 0 ? var.zones : null
  target_size               = var.replicas

  version {
    name              = "reconciler"
    instance_template = module.vm.self_link_unique
  }

  auto_healing_policies {
    health_check      = module.vm.health_check.id
    initial_delay_sec = var.autohealing_initial_delay
  }

  update_policy {
    type                  = "PROACTIVE"
    minimal_action        = "REPLACE"
    max_surge_fixed       = local.zone_count
    max_unavailable_fixed = 0
  }
}

# The reconciler's probes of forwarders' /readyz on nic0, from its service
# account only.
resource "google_compute_firewall" "probes" {
  project                 = local.network_project
  name                    = "${var.name}-probe-forwarders"
  network                 = var.network.network
  description             = "vpclink reconciler probes of forwarder agents"
  direction               = "INGRESS"
  source_service_accounts = [module.vm.service_account_email]
  target_service_accounts = [var.forwarder_service_account]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.probe.port)]
  }
}
