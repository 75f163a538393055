# The forwarder group: a regional MIG of two-NIC IP forwarders, each running
# vpclink-agent.service. See README.md for the permission list and why the
# update policy is OPPORTUNISTIC.

locals {
  # Every project the agent writes routes in: its own plus e.g. a Shared VPC host.
  route_projects = toset(concat([var.project], var.route_projects))

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

  agent_unit = coalesce(var.agent_unit, file("${path.module}/../../../systemd/vpclink-agent.service"))

  # scripts/startup-script.sh, shared with the reconciler module, reads what
  # to install from these attributes (its header lists them).
  startup_metadata = {
    "startup-script"        = file("${path.module}/../../../scripts/startup-script.sh")
    "vpclink-binary-url"    = var.vpclink_url
    "vpclink-binary-sha256" = var.vpclink_sha256
    "vpclink-unit-name"     = "vpclink-agent.service"
    "vpclink-unit"          = local.agent_unit
    "vpclink-ops-agent"     = tostring(var.ops_agent)
    "vpclink-metrics-job"   = "vpclink-agent"
    "vpclink-metrics-port"  = tostring(var.health_port)
  }

  # Firewall rules belong to the network's project (a Shared VPC host differs).
  nic0_project = coalesce(var.nic0.subnetwork_project, var.project)
  nic1_project = coalesce(var.nic1.subnetwork_project, var.project)

  # Regional MIG surge and unavailability must be 0 or at least the number of zones.
  zone_count = length(var.zones) > 0 ? length(var.zones) : 3
}

resource "google_service_account" "agent" {
  project      = var.project
  account_id   = var.name
  display_name = "vpclink agent on ${var.name} forwarders"
}

resource "google_project_iam_custom_role" "agent" {
  for_each = local.route_projects

  project     = each.value
  role_id     = local.role_id
  title       = "vpclink agent (${var.name})"
  description = "Announce and withdraw a forwarder's own custom routes: see terraform/modules/forwarders/README.md."
  permissions = local.agent_permissions
}

resource "google_project_iam_member" "agent" {
  for_each = local.route_projects

  project = each.value
  role    = google_project_iam_custom_role.agent[each.value].id
  member  = google_service_account.agent.member
}

# The Ops Agent ships the journal and /metrics; these are the predefined
# writer-only roles for that, nothing more.
resource "google_project_iam_member" "agent_telemetry" {
  for_each = var.ops_agent ? toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"]) : toset([])

  project = var.project
  role    = each.value
  member  = google_service_account.agent.member
}

resource "google_compute_instance_template" "forwarder" {
  project        = var.project
  region         = var.region
  name_prefix    = "${var.name}-"
  description    = "vpclink forwarder: nic0 in VPC A, nic1 in VPC B"
  machine_type   = var.machine_type
  can_ip_forward = true
  labels         = merge(var.labels, { vpclink = "forwarder" })

  disk {
    source_image = var.image
    boot         = true
    auto_delete  = true
    disk_type    = "pd-balanced"
    disk_size_gb = 10
  }

  # nic0: VPC A. Health checks, the reconciler's probes and the metadata
  # server's default route use it.
  network_interface {
    subnetwork         = var.nic0.subnetwork
    subnetwork_project = var.nic0.subnetwork_project
  }

  # nic1: VPC B. The agent finds it by MAC and keeps table rt1 on it.
  network_interface {
    subnetwork         = var.nic1.subnetwork
    subnetwork_project = var.nic1.subnetwork_project
  }

  service_account {
    email  = google_service_account.agent.email
    scopes = ["cloud-platform"]
  }

  # The agent reads vpclink-config from the metadata server itself.
  metadata = merge(local.startup_metadata, {
    "vpclink-config" = local.agent_config
    "enable-oslogin" = "TRUE"
  })

  scheduling {
    automatic_restart   = true
    on_host_maintenance = "MIGRATE"
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Autohealing's check: /healthz answers while the agent process is alive. It is
# the slow, last-resort path (a panicked VM is recreated minutes later); the
# reconciler's probes of /readyz are what prune a dead forwarder's routes.
resource "google_compute_health_check" "agent" {
  project             = var.project
  name                = "${var.name}-healthz"
  description         = "vpclink agent liveness for MIG autohealing"
  check_interval_sec  = 10
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 3

  http_health_check {
    port         = var.health_port
    request_path = "/healthz"
  }

  log_config {
    enable = false
  }
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
    instance_template = google_compute_instance_template.forwarder.self_link_unique
  }

  named_port {
    name = "vpclink-health"
    port = var.health_port
  }

  auto_healing_policies {
    health_check      = google_compute_health_check.agent.id
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

# Google's health checkers reach nic0 on the agent's port.
resource "google_compute_firewall" "health_checks" {
  project                 = local.nic0_project
  name                    = "${var.name}-allow-health-checks"
  network                 = var.nic0.network
  description             = "Google health checkers to the vpclink agent's /healthz (MIG autohealing)"
  direction               = "INGRESS"
  source_ranges           = ["35.191.0.0/16", "130.211.0.0/22"]
  target_service_accounts = [google_service_account.agent.email]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.health_port)]
  }
}

# GCE's firewall applies to forwarded packets: allow what the forwarders carry.
resource "google_compute_firewall" "forwarded_vpc_a" {
  count = length(var.forwarded_source_ranges.vpc_a) > 0 ? 1 : 0

  project                 = local.nic0_project
  name                    = "${var.name}-forward-from-a"
  network                 = var.nic0.network
  description             = "Traffic from VPC A that vpclink forwarders route to VPC B"
  direction               = "INGRESS"
  source_ranges           = var.forwarded_source_ranges.vpc_a
  target_service_accounts = [google_service_account.agent.email]

  allow {
    protocol = "all"
  }
}

resource "google_compute_firewall" "forwarded_vpc_b" {
  count = length(var.forwarded_source_ranges.vpc_b) > 0 ? 1 : 0

  project                 = local.nic1_project
  name                    = "${var.name}-forward-from-b"
  network                 = var.nic1.network
  description             = "Traffic from VPC B that vpclink forwarders route to VPC A (replies included)"
  direction               = "INGRESS"
  source_ranges           = var.forwarded_source_ranges.vpc_b
  target_service_accounts = [google_service_account.agent.email]

  allow {
    protocol = "all"
  }
}
