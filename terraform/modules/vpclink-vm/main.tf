# A vpclink VM's instance template, shared by the forwarders and reconciler
# modules so that both boot the same way: one boot disk, shielded VM, OS
# Login, and scripts/startup-script.sh with the vpclink-* attributes that tell
# it what to install (its header lists them). iam.tf is the identity it runs
# as, health.tf its autohealing check. Internal: the public modules validate
# every input before it gets here, and own the group.

locals {
  unit = coalesce(var.unit, file("${path.module}/../../../systemd/${var.unit_name}"))

  # The metrics job is the unit's name without .service (vpclink-agent,
  # vpclink-reconciler): what the monitoring module queries.
  startup_metadata = {
    "startup-script"        = file("${path.module}/../../../scripts/startup-script.sh")
    "vpclink-binary-url"    = var.vpclink_url
    "vpclink-binary-sha256" = var.vpclink_sha256
    "vpclink-unit-name"     = var.unit_name
    "vpclink-unit"          = local.unit
    "vpclink-ops-agent"     = tostring(var.ops_agent)
    "vpclink-metrics-job"   = trimsuffix(var.unit_name, ".service")
    "vpclink-metrics-port"  = tostring(var.port)
    "enable-oslogin"        = "TRUE"
  }
}

resource "google_compute_instance_template" "this" {
  project        = var.project
  region         = var.region
  name_prefix    = "${var.name}-"
  description    = var.description
  machine_type   = var.machine_type
  can_ip_forward = var.can_ip_forward
  labels         = merge(var.labels, { vpclink = var.kind })

  disk {
    source_image = var.image
    boot         = true
    auto_delete  = true
    disk_type    = "pd-balanced"
    disk_size_gb = 10
  }

  # In list order: nic0 first. The caller's comments say what each NIC is for.
  dynamic "network_interface" {
    for_each = var.network_interfaces
    content {
      subnetwork         = network_interface.value.subnetwork
      subnetwork_project = network_interface.value.subnetwork_project
    }
  }

  service_account {
    email  = google_service_account.this.email
    scopes = ["cloud-platform"]
  }

  metadata = merge(local.startup_metadata, var.metadata)

  # GCE's defaults, written out: a VM that goes down comes back, and host
  # maintenance live-migrates it instead of stopping it. Not set:
  # scheduling.graceful_shutdown, which the google provider (8.0) offers only
  # in google-beta; MIG deletes and recreates give the guest GCE's ordinary
  # shutdown period, which the units' TimeoutStopSec fits (README "Deploy").
  scheduling {
    automatic_restart   = true
    on_host_maintenance = "MIGRATE"
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  # The group's version points at the new template before the old one goes.
  lifecycle {
    create_before_destroy = true
  }
}
