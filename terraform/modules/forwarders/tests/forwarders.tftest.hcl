# Plans the module against a mocked google provider: no credentials, no API
# calls; what is asserted is the configuration terraform would send.
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
  zones   = ["us-central1-a", "us-central1-b", "us-central1-c"]
  nic0 = {
    network    = "projects/vpclink-test/global/networks/vpc-a"
    subnetwork = "projects/vpclink-test/regions/us-central1/subnetworks/vpc-a-fwd"
  }
  nic1 = {
    network    = "projects/vpclink-test/global/networks/vpc-b"
    subnetwork = "projects/vpclink-test/regions/us-central1/subnetworks/vpc-b-fwd"
  }
  routes = [{
    network     = "vpc-a"
    dest_ranges = ["10.19.16.0/20"]
  }]
  policy_routing_via = ["10.19.16.0/20"]
  vpclink_url        = "gs://vpclink-releases/vpclink-linux-amd64"
  vpclink_sha256     = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
  num_instances      = 3
  forwarded_source_ranges = {
    vpc_a = ["10.0.0.0/16"]
    vpc_b = ["10.19.16.0/20"]
  }
}

run "template_has_two_nics_and_forwards" {
  command = plan

  assert {
    condition     = module.vm.can_ip_forward == true
    error_message = "forwarders must have can_ip_forward"
  }
  assert {
    condition     = length(module.vm.subnetworks) == 2
    error_message = "forwarder template must have exactly two NICs"
  }
  assert {
    condition     = module.vm.subnetworks[0] == var.nic0.subnetwork
    error_message = "nic0 must be in the VPC A subnet"
  }
  assert {
    condition     = module.vm.subnetworks[1] == var.nic1.subnetwork
    error_message = "nic1 must be in the VPC B subnet"
  }
}

run "metadata_carries_agent_config" {
  command = plan

  assert {
    condition = yamldecode(module.vm.metadata["vpclink-config"]) == {
      routes = [{
        network    = "vpc-a"
        project    = ""
        destRanges = ["10.19.16.0/20"]
        priority   = 900
        tags       = []
        nextHop    = "instance"
      }]
      policyRouting = { nic = 1, table = 1, tableName = "rt1", via = ["10.19.16.0/20"] }
      health        = { port = 9780 }
      drain         = { grace = "10s" }
      routePrefix   = "vpclink"
    }
    error_message = "vpclink-config must be the agent config with DESIGN.md's keys"
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
    condition     = module.vm.metadata["vpclink-binary-url"] == "gs://vpclink-releases/vpclink-linux-amd64"
    error_message = "vpclink-binary-url must be vpclink_url: the startup script installs the binary from it"
  }
  assert {
    condition     = module.vm.metadata["vpclink-binary-sha256"] == "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
    error_message = "vpclink-binary-sha256 must carry vpclink_sha256"
  }
  assert {
    condition     = module.vm.metadata["vpclink-unit-name"] == "vpclink-agent.service"
    error_message = "the startup script must install and start vpclink-agent.service"
  }
  assert {
    condition     = module.vm.metadata["vpclink-unit"] == file("../../../systemd/vpclink-agent.service")
    error_message = "vpclink-unit must be the repository's systemd/vpclink-agent.service by default"
  }
  assert {
    condition     = !contains(keys(module.vm.metadata), "vpclink-config-path")
    error_message = "forwarders get no config file: the agent reads vpclink-config from the metadata server"
  }
  assert {
    condition = [for k in ["vpclink-ops-agent", "vpclink-metrics-job", "vpclink-metrics-port"] :
    module.vm.metadata[k]] == ["true", "vpclink-agent", "9780"]
    error_message = "the Ops Agent must be configured to scrape the agent's /metrics on 9780 as job vpclink-agent"
  }
  assert {
    condition     = module.vm.telemetry_roles == tolist(["roles/logging.logWriter", "roles/monitoring.metricWriter"])
    error_message = "with the Ops Agent the service account must get the log and metric writer roles, nothing more"
  }
}

run "pinned_binary_own_unit_no_ops_agent" {
  command = plan

  variables {
    vpclink_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    agent_unit     = "[Unit]\nDescription=test\n"
    ops_agent      = false
    health_port    = 9790
  }

  assert {
    condition     = module.vm.metadata["vpclink-binary-sha256"] == "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    error_message = "vpclink-binary-sha256 must carry vpclink_sha256"
  }
  assert {
    condition     = module.vm.metadata["vpclink-unit"] == "[Unit]\nDescription=test\n"
    error_message = "vpclink-unit must carry agent_unit when it is set"
  }
  assert {
    condition     = module.vm.metadata["vpclink-ops-agent"] == "false" && module.vm.metadata["vpclink-metrics-port"] == "9790"
    error_message = "vpclink-ops-agent must follow ops_agent and vpclink-metrics-port health_port"
  }
  assert {
    condition     = length(module.vm.telemetry_roles) == 0
    error_message = "no logging/monitoring writer roles without the Ops Agent"
  }
}

run "empty_sha256_rejected" {
  command = plan

  variables {
    vpclink_sha256 = ""
  }

  expect_failures = [var.vpclink_sha256]
}

run "malformed_sha256_rejected" {
  command = plan

  variables {
    vpclink_sha256 = "not-a-digest"
  }

  expect_failures = [var.vpclink_sha256]
}

run "role_holds_exactly_the_agent_permissions" {
  command = plan

  assert {
    condition = module.vm.role_permissions["vpclink-test"] == toset([
      "compute.globalOperations.get",
      "compute.instances.use",
      "compute.networks.updatePolicy",
      "compute.routes.create",
      "compute.routes.delete",
      "compute.routes.get",
      "compute.routes.list",
    ])
    error_message = "the agent role must hold exactly the permissions README.md lists"
  }
  assert {
    condition     = length(module.vm.role_ids) == 1
    error_message = "one role per route project"
  }
}

run "role_in_every_route_project" {
  command = plan

  variables {
    route_projects = ["vpc-host"]
  }

  assert {
    condition     = keys(module.vm.role_ids) == ["vpc-host", "vpclink-test"]
    error_message = "the role must exist in the group's project and each route project"
  }
}

run "autohealing_on_healthz" {
  command = plan

  assert {
    condition     = module.vm.health_check.http_health_check[0].request_path == "/healthz"
    error_message = "autohealing must check /healthz"
  }
  assert {
    condition     = module.vm.health_check.http_health_check[0].port == 9780
    error_message = "autohealing must check the agent's port 9780"
  }
  assert {
    condition     = google_compute_region_instance_group_manager.forwarders.target_size == 3
    error_message = "target_size must follow num_instances"
  }
  assert {
    condition     = google_compute_region_instance_group_manager.forwarders.update_policy[0].type == "OPPORTUNISTIC"
    error_message = "terraform must not roll forwarders itself"
  }
  assert {
    condition     = google_compute_region_instance_group_manager.forwarders.auto_healing_policies[0].initial_delay_sec == 180
    error_message = "autohealing initial delay"
  }
}

run "firewall_admits_only_google_health_checkers" {
  command = plan

  assert {
    condition     = module.vm.health_check_firewall.source_ranges == toset(["35.191.0.0/16", "130.211.0.0/22"])
    error_message = "health-check rule must admit Google's ranges only"
  }
  assert {
    condition     = one(module.vm.health_check_firewall.allow).ports == tolist(["9780"])
    error_message = "health-check rule must open the agent port only"
  }
  assert {
    condition     = length(google_compute_firewall.forwarded_vpc_a) == 1 && length(google_compute_firewall.forwarded_vpc_b) == 1
    error_message = "forwarded traffic rules must exist when ranges are given"
  }
  assert {
    condition     = length(google_compute_firewall.ssh) == 0
    error_message = "no SSH rule unless ssh_source_ranges asks for one"
  }
}

# The forwarded traffic's rules admit packets between the two sides' ranges,
# never one addressed to a forwarder (port 22, the agent's 9780): those have
# their own rules from their own sources.
run "forwarded_traffic_and_management_are_separate_rules" {
  command = plan

  assert {
    condition     = google_compute_firewall.forwarded_vpc_a[0].source_ranges == toset(["10.0.0.0/16"]) && google_compute_firewall.forwarded_vpc_a[0].destination_ranges == toset(["10.19.16.0/20"])
    error_message = "the rule on nic0 must admit VPC A sources to VPC B destinations only"
  }
  assert {
    condition     = google_compute_firewall.forwarded_vpc_b[0].source_ranges == toset(["10.19.16.0/20"]) && google_compute_firewall.forwarded_vpc_b[0].destination_ranges == toset(["10.0.0.0/16"])
    error_message = "the rule on nic1 must admit VPC B sources to VPC A destinations only"
  }
}

run "ssh_from_the_given_ranges_only" {
  command = plan

  variables {
    ssh_source_ranges = ["35.235.240.0/20"]
  }

  assert {
    condition     = google_compute_firewall.ssh[0].source_ranges == toset(["35.235.240.0/20"]) && one(google_compute_firewall.ssh[0].allow).ports == tolist(["22"])
    error_message = "the SSH rule must open tcp/22 from ssh_source_ranges only"
  }
}

run "one_sided_forwarded_ranges_rejected" {
  command = plan

  variables {
    forwarded_source_ranges = { vpc_a = ["10.0.0.0/16"] }
  }

  expect_failures = [var.forwarded_source_ranges]
}

run "binary_read_on_the_object_only" {
  command = plan

  assert {
    condition     = module.vm.binary_read.condition[0].expression == "resource.name == \"projects/_/buckets/vpclink-releases/objects/vpclink-linux-amd64\""
    error_message = "the forwarders' account must get read on the binary's object, not the bucket"
  }
}

# What `vpclink drain`, `undrain`, `rollout`, `status` and `plan` call with
# the operator's credentials, and nothing that creates or changes anything else.
run "operator_role_for_drain_rollout_status_plan" {
  command = plan

  variables {
    operators      = ["group:net-oncall@example.com"]
    route_projects = ["vpc-host"]
  }

  assert {
    condition = toset(output.operator_role.permissions) == toset([
      "compute.globalOperations.get",
      "compute.instanceGroupManagers.get",
      "compute.instanceGroupManagers.update",
      "compute.instances.get",
      "compute.instances.list",
      "compute.instances.setMetadata",
      "compute.networks.updatePolicy",
      "compute.regionOperations.get",
      "compute.routes.delete",
      "compute.routes.get",
      "compute.routes.list",
      "compute.zoneOperations.get",
    ])
    error_message = "the operator role must hold exactly what drain, rollout, status and plan call"
  }
  assert {
    condition     = keys(output.operator_role.ids) == ["vpc-host", "vpclink-test"]
    error_message = "the operator role must exist in the group's project and each route project"
  }
  assert {
    condition     = length(google_project_iam_member.operator) == 2 && alltrue([for m in google_project_iam_member.operator : m.member == "group:net-oncall@example.com"])
    error_message = "each operator must be granted the role in every project"
  }
  assert {
    condition     = google_service_account_iam_member.operator_act_as["group:net-oncall@example.com"].role == "roles/iam.serviceAccountUser"
    error_message = "drain's setMetadata needs actAs on the forwarders' account, granted on that account only"
  }
}

run "scale_to_zero_is_allowed" {
  command = plan

  variables {
    num_instances = 0
  }

  assert {
    condition     = google_compute_region_instance_group_manager.forwarders.target_size == 0
    error_message = "num_instances = 0 must empty the group"
  }
}

run "negative_num_instances_rejected" {
  command = plan

  variables {
    num_instances = -1
  }

  expect_failures = [var.num_instances]
}

run "too_many_instances_rejected" {
  command = plan

  variables {
    num_instances = 17
  }

  expect_failures = [var.num_instances]
}

run "fractional_num_instances_rejected" {
  command = plan

  variables {
    num_instances = 1.5
  }

  expect_failures = [var.num_instances]
}

run "cidr_with_host_bits_rejected" {
  command = plan

  variables {
    routes = [{ network = "vpc-a", dest_ranges = ["10.19.16.1/20"] }]
  }

  expect_failures = [var.routes]
}

run "malformed_cidr_rejected" {
  command = plan

  variables {
    routes = [{ network = "vpc-a", dest_ranges = ["10.19.16.0"] }]
  }

  expect_failures = [var.routes]
}

run "bad_next_hop_rejected" {
  command = plan

  variables {
    routes = [{ network = "vpc-a", dest_ranges = ["10.19.16.0/20"], next_hop = "gateway" }]
  }

  expect_failures = [var.routes]
}

run "bad_forwarded_range_rejected" {
  command = plan

  variables {
    forwarded_source_ranges = { vpc_a = ["10.0.0.0/33"] }
  }

  expect_failures = [var.forwarded_source_ranges]
}

run "peers_may_probe_each_other_on_the_agent_port_only" {
  command = plan

  assert {
    condition     = one(google_compute_firewall.peer_probes.allow).ports == tolist(["9780"]) && google_compute_firewall.peer_probes.source_ranges == null
    error_message = "peer probes must open the agent port only, by service account"
  }
  assert {
    condition     = length(google_compute_firewall.peer_probes.source_service_accounts) == 1 && length(google_compute_firewall.peer_probes.target_service_accounts) == 1
    error_message = "peer probes must come from and go to one service account, the forwarders'"
  }
}
