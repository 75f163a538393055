# Plans the module against a mocked google provider.
# The service account's computed email, member and name, as IAM forms them: an
# engine that fills computed values during plan (OpenTofu) would otherwise
# invent strings that the provider's IAM member validation rejects.
mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      email  = "vpclink-sa@vpclink-test.iam.gserviceaccount.com"
      member = "serviceAccount:vpclink-sa@vpclink-test.iam.gserviceaccount.com"
      name   = "projects/vpclink-test/serviceAccounts/vpclink-sa@vpclink-test.iam.gserviceaccount.com"
    }
  }
}

variables {
  project = "vpclink-test"
  region  = "us-central1"
  network = {
    network    = "projects/vpclink-test/global/networks/vpc-a"
    subnetwork = "projects/vpclink-test/regions/us-central1/subnetworks/vpc-a-ops"
  }
  forwarder_service_account = "vpclink-fwd@vpclink-test.iam.gserviceaccount.com"
  groups                    = [{ name = "vpclink-fwd", region = "us-central1" }]
  allow = [{
    network     = "vpc-a"
    dest_ranges = ["10.19.0.0/16"]
  }]
  vpclink_url    = "https://example.invalid/vpclink"
  vpclink_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
}

run "config_has_design_keys" {
  command = plan

  assert {
    condition = yamldecode(output.config) == {
      project     = "vpclink-test"
      routePrefix = "vpclink"
      groups      = [{ name = "vpclink-fwd", region = "us-central1" }]
      allow = [{
        network    = "vpc-a"
        project    = ""
        destRanges = ["10.19.0.0/16"]
        priority   = { min = 100, max = 1000 }
      }]
      probe              = { port = 9780, path = "/readyz", interval = "1s", timeout = "800ms", failures = 3, successes = 2 }
      minHealthyFraction = 0.5
      bootGrace          = "120s"
      interval           = "10s"
      listen             = ":9781"
      healthz            = { failAfter = "5m" }
    }
    error_message = "reconciler.yaml must carry DESIGN.md's keys and defaults"
  }
  assert {
    condition     = module.vm.metadata["vpclink-config-path"] == "/etc/vpclink/reconciler.yaml"
    error_message = "the startup script must write /etc/vpclink/reconciler.yaml"
  }
  assert {
    condition     = module.vm.metadata["vpclink-config"] == output.config
    error_message = "vpclink-config must be the reconciler config, which the startup script writes to vpclink-config-path"
  }
  assert {
    condition     = strcontains(module.vm.metadata["vpclink-unit"], "ExecStart=/usr/local/bin/vpclink reconciler --config /etc/vpclink/reconciler.yaml")
    error_message = "the startup script must install the repository's vpclink-reconciler.service"
  }
}

# scripts/startup-script.sh is the startup script, verbatim; what it installs
# comes from the vpclink-* attributes next to it.
run "metadata_tells_the_startup_script_what_to_install" {
  command = plan

  assert {
    condition     = module.vm.metadata["startup-script"] == file("../../../scripts/startup-script.sh")
    error_message = "startup-script must be scripts/startup-script.sh, verbatim"
  }
  assert {
    condition     = module.vm.metadata["vpclink-binary-url"] == "https://example.invalid/vpclink" && module.vm.metadata["vpclink-binary-sha256"] == "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    error_message = "vpclink-binary-url/-sha256 must carry vpclink_url and vpclink_sha256"
  }
  assert {
    condition     = module.vm.metadata["vpclink-unit-name"] == "vpclink-reconciler.service"
    error_message = "the startup script must install and start vpclink-reconciler.service"
  }
  assert {
    condition     = module.vm.metadata["vpclink-unit"] == file("../../../systemd/vpclink-reconciler.service")
    error_message = "vpclink-unit must be the repository's systemd/vpclink-reconciler.service by default"
  }
  assert {
    condition = [for k in ["vpclink-ops-agent", "vpclink-metrics-job", "vpclink-metrics-port"] :
    module.vm.metadata[k]] == ["true", "vpclink-reconciler", "9781"]
    error_message = "the Ops Agent must be configured to scrape the reconciler's /metrics on 9781 as job vpclink-reconciler"
  }
}

run "malformed_sha256_rejected" {
  command = plan

  variables {
    vpclink_sha256 = "0123"
  }

  expect_failures = [var.vpclink_sha256]
}

run "zonal_group_renders_zone_only" {
  command = plan

  variables {
    groups = [{ name = "fwd-a", zone = "us-central1-a" }]
  }

  assert {
    condition     = yamldecode(output.config).groups == [{ name = "fwd-a", zone = "us-central1-a" }]
    error_message = "a zonal group must render name and zone only"
  }
}

run "role_holds_exactly_the_reconciler_permissions" {
  command = plan

  assert {
    condition = module.vm.role_permissions["vpclink-test"] == toset([
      "compute.globalOperations.get",
      "compute.instanceGroupManagers.get",
      "compute.instances.list",
      "compute.instances.use",
      "compute.networks.updatePolicy",
      "compute.routes.create",
      "compute.routes.delete",
      "compute.routes.get",
      "compute.routes.list",
    ])
    error_message = "the reconciler role must hold exactly the permissions README.md lists"
  }
}

run "group_and_health_check" {
  command = plan

  assert {
    condition     = google_compute_region_instance_group_manager.reconciler.target_size == 2
    error_message = "two replicas by default"
  }
  assert {
    condition     = module.vm.health_check.http_health_check[0].request_path == "/healthz" && module.vm.health_check.http_health_check[0].port == 9781
    error_message = "autohealing must check the reconciler's /healthz on 9781"
  }
}

run "probe_rule_only_from_reconciler_to_forwarders" {
  command = plan

  assert {
    condition     = google_compute_firewall.probes.target_service_accounts == toset(["vpclink-fwd@vpclink-test.iam.gserviceaccount.com"])
    error_message = "probes must target the forwarders' service account"
  }
  assert {
    condition     = one(google_compute_firewall.probes.allow).ports == tolist(["9780"])
    error_message = "probes must open the agent port only"
  }
  assert {
    condition     = google_compute_firewall.probes.source_ranges == null
    error_message = "probes must be admitted by service account, not by range"
  }
}

run "three_replicas_rejected" {
  command = plan

  variables {
    replicas = 3
  }

  expect_failures = [var.replicas]
}

run "group_with_zone_and_region_rejected" {
  command = plan

  variables {
    groups = [{ name = "fwd", zone = "us-central1-a", region = "us-central1" }]
  }

  expect_failures = [var.groups]
}

run "allow_cidr_with_host_bits_rejected" {
  command = plan

  variables {
    allow = [{ network = "vpc-a", dest_ranges = ["10.19.0.1/16"] }]
  }

  expect_failures = [var.allow]
}

run "inverted_priority_range_rejected" {
  command = plan

  variables {
    allow = [{ network = "vpc-a", dest_ranges = ["10.19.0.0/16"], priority_min = 2000, priority_max = 1000 }]
  }

  expect_failures = [var.allow]
}

run "fail_static_fraction_out_of_range_rejected" {
  command = plan

  variables {
    min_healthy_fraction = 1.5
  }

  expect_failures = [var.min_healthy_fraction]
}

run "empty_sha256_rejected" {
  command = plan

  variables {
    vpclink_sha256 = ""
  }

  expect_failures = [var.vpclink_sha256]
}

run "autohealing_delay_is_a_variable" {
  command = plan

  variables {
    autohealing_initial_delay = 300
  }

  assert {
    condition     = google_compute_region_instance_group_manager.reconciler.auto_healing_policies[0].initial_delay_sec == 300
    error_message = "the reconciler's autohealing delay must follow autohealing_initial_delay"
  }
  assert {
    condition     = module.vm.health_check.http_health_check[0].request_path == "/healthz"
    error_message = "autohealing must check the reconciler's /healthz, which fails when no pass succeeded for a while"
  }
}

run "one_letter_name_still_makes_valid_ids" {
  command = plan

  variables {
    name = "r"
  }

  assert {
    condition     = can(regex("^[a-zA-Z0-9_.]{3,64}$", module.vm.role_id))
    error_message = "custom role ids must be 3-64 characters"
  }
  assert {
    condition     = google_compute_firewall.probes.name == "r-probe-forwarders"
    error_message = "the probe rule keeps the group's name"
  }
}

run "allow_prefix_lengths_reach_the_config" {
  command = plan

  variables {
    allow = [{
      network           = "vpc-a"
      dest_ranges       = ["10.19.0.0/16"]
      prefix_length_min = 16
      prefix_length_max = 24
    }]
  }

  assert {
    condition     = yamldecode(output.config).allow[0].prefixLength == { min = 16, max = 24 }
    error_message = "allow[*].prefix_length_min/max must become allow[].prefixLength"
  }
}

run "allow_prefix_lengths_come_in_pairs" {
  command = plan

  variables {
    allow = [{
      network           = "vpc-a"
      dest_ranges       = ["10.19.0.0/16"]
      prefix_length_min = 16
    }]
  }

  expect_failures = [var.allow]
}
