# The reconciler: a small regional MIG running vpclink-reconciler.service,
# its service account with a least-privilege custom role, its config file,
# and the firewall rule that lets it (and only it) probe forwarders.

locals {
  route_projects = toset(concat([var.project], var.route_projects))
  role_id        = replace(var.name, "-", "_")

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
    allow = [for a in var.allow : {
      network    = a.network
      project    = a.project
      destRanges = a.dest_ranges
      priority   = { min = a.priority_min, max = a.priority_max }
    }]
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
  })

  unit = coalesce(var.reconciler_unit, file("${path.module}/../../../systemd/vpclink-reconciler.service"))

  # scripts/startup-script.sh, shared with the forwarders module, reads what
  # to install from these attributes (its header lists them); it writes
  # vpclink-config to vpclink-config-path, which the unit's --config names.
  startup_metadata = {
    "startup-script"        = file("${path.module}/../../../scripts/startup-script.sh")
    "vpclink-binary-url"    = var.vpclink_url
    "vpclink-binary-sha256" = var.vpclink_sha256
    "vpclink-unit-name"     = "vpclink-reconciler.service"
    "vpclink-unit"          = local.unit
    "vpclink-config-path"   = local.config_path
    "vpclink-config"        = local.config
    "vpclink-ops-agent"     = tostring(var.ops_agent)
    "vpclink-metrics-job"   = "vpclink-reconciler"
    "vpclink-metrics-port"  = tostring(var.listen_port)
  }

  network_project = coalesce(var.network.subnetwork_project, var.project)
  zone_count      = length(var.zones) > 0 ? length(var.zones) : 3
}

resource "google_service_account" "reconciler" {
  project      = var.project
  account_id   = var.name
  display_name = "vpclink reconciler (${var.name})"
}

resource "google_project_iam_custom_role" "reconciler" {
  for_each = local.route_projects

  project     = each.value
  role_id     = local.role_id
  title       = "vpclink reconciler (${var.name})"
  description = "Read forwarder groups, prune and restore vpclink routes: see terraform/modules/reconciler/README.md."
  permissions = local.reconciler_permissions
}

resource "google_project_iam_member" "reconciler" {
  for_each = local.route_projects

  project = each.value
  role    = google_project_iam_custom_role.reconciler[each.value].id
  member  = google_service_account.reconciler.member
}

resource "google_project_iam_member" "reconciler_telemetry" {
  for_each = var.ops_agent ? toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"]) : toset([])

  project = var.project
  role    = each.value
  member  = google_service_account.reconciler.member
}

resource "google_compute_instance_template" "reconciler" {
  project      = var.project
  region       = var.region
  name_prefix  = "${var.name}-"
  description  = "vpclink reconciler"
  machine_type = var.machine_type
  labels       = merge(var.labels, { vpclink = "reconciler" })

  disk {
    source_image = var.image
    boot         = true
    auto_delete  = true
    disk_type    = "pd-balanced"
    disk_size_gb = 10
  }

  network_interface {
    subnetwork         = var.network.subnetwork
    subnetwork_project = var.network.subnetwork_project
  }

  service_account {
    email  = google_service_account.reconciler.email
    scopes = ["cloud-platform"]
  }

  metadata = merge(local.startup_metadata, {
    "enable-oslogin" = "TRUE"
  })

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_health_check" "reconciler" {
  project             = var.project
  name                = "${var.name}-healthz"
  description         = "vpclink reconciler liveness for MIG autohealing"
  check_interval_sec  = 10
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 3

  http_health_check {
    port         = var.listen_port
    request_path = "/healthz"
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
    instance_template = google_compute_instance_template.reconciler.self_link_unique
  }

  auto_healing_policies {
    health_check      = google_compute_health_check.reconciler.id
    initial_delay_sec = 120
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
  source_service_accounts = [google_service_account.reconciler.email]
  target_service_accounts = [var.forwarder_service_account]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.probe.port)]
  }
}

resource "google_compute_firewall" "health_checks" {
  project                 = local.network_project
  name                    = "${var.name}-allow-health-checks"
  network                 = var.network.network
  description             = "Google health checkers to the vpclink reconciler's /healthz"
  direction               = "INGRESS"
  source_ranges           = ["35.191.0.0/16", "130.211.0.0/22"]
  target_service_accounts = [google_service_account.reconciler.email]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.listen_port)]
  }
}
