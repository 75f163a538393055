# The forwarder group: a regional MIG of two-NIC IP forwarders, each running
# vpclink-agent.service. See README.md for the permission list and why the
# update policy is OPPORTUNISTIC.

locals {
  # Custom role ids allow [a-zA-Z0-9_.] only.
  role_id = "${replace(var.name, "-", "_")}_agent"

  # What the agent does with the Compute API, and nothing else (README.md says why each).
  agent_permissions = [
    "compute.globalOperations.get",
    "compute.instances.use",
    "compute.networks.updatePolicy",
    "compute.routes.create",
    "compute.routes.delete",
    "compute.routes.get",
    "compute.routes.list",
  ]

  # The agent config (DESIGN.md "Agent config"), keys exactly as the agent reads them.
  agent_config = yamlencode({
    routes = [for r in var.routes : {
      network    = r.network
      project    = r.project
      destRanges = r.dest_ranges
      priority   = r.priority
      tags       = r.tags
      nextHop    = r.next_hop
    }]
    policyRouting = {
      nic       = 1
      table     = 1
      tableName = "rt1"
      via       = var.policy_routing_via
    }
    health      = { port = var.health_port }
    drain       = { grace = var.drain_grace }
    routePrefix = var.route_prefix
  })

  # Firewall rules belong to the network's project (a Shared VPC host differs).
  nic0_project = coalesce(var.nic0.subnetwork_project, var.project)
  nic1_project = coalesce(var.nic1.subnetwork_project, var.project)

  # Regional MIG surge and unavailability must be 0 or at least the number of zones.
  zone_count = length(var.zones) > 0 ? length(var.zones) : 3
}

# The forwarders' service account, custom role, template and autohealing
# check, built like the reconciler's (../vpclink-vm): the startup script
# installs vpclink-agent.service, which reads vpclink-config from the metadata
# server itself.
module "vm" {
  source = "../vpclink-vm"

  project              = var.project
  region               = var.region
  name                 = var.name
  kind                 = "forwarder"
  account_display_name = "vpclink agent on ${var.name} forwarders"
  route_projects       = var.route_projects
  role = {
    id          = local.role_id
    description = "Announce and withdraw a forwarder's own custom routes: see terraform/modules/forwarders/README.md."
    permissions = local.agent_permissions
  }

  description    = "vpclink forwarder: nic0 in VPC A, nic1 in VPC B"
  machine_type   = var.machine_type
  image          = var.image
  can_ip_forward = true
  labels         = var.labels

  # nic0: VPC A. Health checks, the reconciler's probes and the metadata
  # server's default route use it. nic1: VPC B. The agent finds it by MAC and
  # keeps table rt1 on it.
  network_interfaces = [var.nic0, var.nic1]

  vpclink_url       = var.vpclink_url
  vpclink_sha256    = var.vpclink_sha256
  grant_binary_read = var.grant_binary_read
  unit_name         = "vpclink-agent.service"
  unit              = var.agent_unit
  ops_agent         = var.ops_agent
  port              = var.health_port
  metadata          = { "vpclink-config" = local.agent_config }
}

resource "google_compute_region_instance_group_manager" "forwarders" {
  project                   = var.project
  region                    = var.region
  name                      = var.name
  base_instance_name        = var.name
  description               = "vpclink forwarders"
  distribution_policy_zones = length(var.zones) > 0 ? var.zones : null
  target_size               = var.num_instances
  wait_for_instances        = var.wait_for_stable
  wait_for_instances_status = "STABLE"

  version {
    name              = "agent"
    instance_template = module.vm.self_link_unique
  }

  named_port {
    name = "vpclink-health"
    port = var.health_port
  }

  auto_healing_policies {
    health_check      = module.vm.health_check.id
    initial_delay_sec = var.autohealing_initial_delay
  }

  # OPPORTUNISTIC: a new template reaches a VM only when it is (re)created by
  # scale-out, autohealing or recreateInstances. terraform apply therefore
  # never replaces forwarders by itself; scripts/rolling_update does, one at a
  # time, draining each first (routes withdrawn while it still forwards).
  # instance_redistribution_type NONE for the same reason: proactive zone
  # rebalancing would delete VMs outside that procedure.
  update_policy {
    type                           = "OPPORTUNISTIC"
    minimal_action                 = "REPLACE"
    most_disruptive_allowed_action = "REPLACE"
    instance_redistribution_type   = "NONE"
    replacement_method             = "SUBSTITUTE"
    max_surge_fixed                = local.zone_count
    max_unavailable_fixed          = 0
  }

  # A VM that autohealing recreates comes back on the current template.
  instance_lifecycle_policy {
    force_update_on_repair = "YES"
  }
}

# GCE's firewall applies to forwarded packets: allow what the forwarders carry,
# and only that. destinationRanges limits a rule to packets addressed to those
# ranges (Compute REST reference, Firewall.destinationRanges), so these rules
# admit traffic between the two sides' ranges and never a port on the
# forwarder itself: management traffic (health checks, the reconciler's
# probes, SSH) has its own rules, each from its own sources.
resource "google_compute_firewall" "forwarded_vpc_a" {
  count = length(var.forwarded_source_ranges.vpc_a) > 0 && length(var.forwarded_source_ranges.vpc_b) > 0 ? 1 : 0

  project                 = local.nic0_project
  name                    = "${var.name}-forward-from-a"
  network                 = var.nic0.network
  description             = "Traffic from VPC A to VPC B that vpclink forwarders route (not to the forwarders themselves)"
  direction               = "INGRESS"
  source_ranges           = var.forwarded_source_ranges.vpc_a
  destination_ranges      = var.forwarded_source_ranges.vpc_b
  target_service_accounts = [module.vm.service_account_email]

  allow {
    protocol = "all"
  }
}

resource "google_compute_firewall" "forwarded_vpc_b" {
  count = length(var.forwarded_source_ranges.vpc_a) > 0 && length(var.forwarded_source_ranges.vpc_b) > 0 ? 1 : 0

  project                 = local.nic1_project
  name                    = "${var.name}-forward-from-b"
  network                 = var.nic1.network
  description             = "Traffic from VPC B to VPC A that vpclink forwarders route, replies included (not to the forwarders themselves)"
  direction               = "INGRESS"
  source_ranges           = var.forwarded_source_ranges.vpc_b
  destination_ranges      = var.forwarded_source_ranges.vpc_a
  target_service_accounts = [module.vm.service_account_email]

  allow {
    protocol = "all"
  }
}

# SSH to the forwarders, from the listed ranges only (e.g. IAP's
# 35.235.240.0/20): a rule of its own, not a side effect of the forwarded
# traffic's rules.
resource "google_compute_firewall" "ssh" {
  count = length(var.ssh_source_ranges) > 0 ? 1 : 0

  project                 = local.nic0_project
  name                    = "${var.name}-allow-ssh"
  network                 = var.nic0.network
  description             = "SSH to vpclink forwarders (nic0)"
  direction               = "INGRESS"
  source_ranges           = var.ssh_source_ranges
  target_service_accounts = [module.vm.service_account_email]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

# Forwarders probe each other's agent on nic0 when a reconciler asks them to
# (GET /peer-probe): the second vantage point before any prune on probe
# evidence. Only from and to the forwarders' own service account.
resource "google_compute_firewall" "peer_probes" {
  project                 = local.nic0_project
  name                    = "${var.name}-peer-probes"
  network                 = var.nic0.network
  description             = "vpclink forwarders probe each other's agent (nic0)"
  direction               = "INGRESS"
  source_service_accounts = [module.vm.service_account_email]
  target_service_accounts = [module.vm.service_account_email]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.health_port)]
  }
}
