# Autohealing's check: /healthz on the service's port answers while the
# process is alive. The reconciler's probes of forwarders' /readyz, not this,
# are what prune a dead forwarder's routes: this is the slow, last-resort path
# (a panicked VM is recreated minutes later).

locals {
  # agent, reconciler: what the descriptions call the service.
  service = trimsuffix(trimprefix(var.unit_name, "vpclink-"), ".service")
}

resource "google_compute_health_check" "this" {
  project             = var.project
  name                = "${var.name}-healthz"
  description         = "vpclink ${local.service} liveness for MIG autohealing"
  check_interval_sec  = 10
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 3

  http_health_check {
    port         = var.port
    request_path = "/healthz"
  }

  log_config {
    enable = false
  }
}

# Google's health checkers reach nic0 on that port, and only VMs running as
# this service account.
resource "google_compute_firewall" "health_checks" {
  project                 = coalesce(var.network_interfaces[0].subnetwork_project, var.project)
  name                    = "${var.name}-allow-health-checks"
  network                 = var.network_interfaces[0].network
  description             = "Google health checkers to the vpclink ${local.service}'s /healthz (MIG autohealing)"
  direction               = "INGRESS"
  source_ranges           = ["35.191.0.0/16", "130.211.0.0/22"]
  target_service_accounts = [google_service_account.this.email]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.port)]
  }
}
