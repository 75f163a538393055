# Plans the shared VM module against a mocked google provider: what the
# forwarders and reconciler modules' own tests do not pin down.
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
  project        = "vpclink-test"
  region         = "us-central1"
  name           = "vpclink-x"
  kind           = "reconciler"
  route_projects = ["vpc-host"]
  role = {
    id          = "vpclink_x"
    description = "test"
    permissions = ["compute.routes.list"]
  }
  description  = "test"
  machine_type = "e2-small"
  image        = "projects/debian-cloud/global/images/family/debian-12"
  network_interfaces = [{
    network            = "projects/vpc-host/global/networks/vpc-a"
    subnetwork         = "projects/vpc-host/regions/us-central1/subnetworks/vpc-a-ops"
    subnetwork_project = "vpc-host"
  }]
  vpclink_url    = "https://example.invalid/vpclink"
  vpclink_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  unit_name      = "vpclink-reconciler.service"
  ops_agent      = false
  port           = 9781
  labels         = { team = "net" }
}

run "unit_and_metrics_job_follow_unit_name" {
  command = plan

  variables {
    unit = ""
  }

  assert {
    condition     = output.metadata["vpclink-unit"] == file("../../../systemd/vpclink-reconciler.service")
    error_message = "an empty unit must fall back to the repository's systemd/<unit_name>"
  }
  assert {
    condition     = output.metadata["vpclink-metrics-job"] == "vpclink-reconciler" && output.metadata["vpclink-metrics-port"] == "9781"
    error_message = "the metrics job must be the unit name without .service, the port var.port"
  }
  assert {
    condition     = output.metadata["enable-oslogin"] == "TRUE" && output.metadata["vpclink-ops-agent"] == "false"
    error_message = "OS Login must be on, and vpclink-ops-agent must follow ops_agent"
  }
  assert {
    condition     = output.can_ip_forward == false
    error_message = "only a caller that asks for it may forward packets"
  }
  assert {
    condition     = length(output.telemetry_roles) == 0
    error_message = "no writer roles without the Ops Agent"
  }
}

run "caller_metadata_wins" {
  command = plan

  variables {
    metadata = { "vpclink-config" = "a: 1\n", "enable-oslogin" = "FALSE" }
  }

  assert {
    condition     = output.metadata["vpclink-config"] == "a: 1\n" && output.metadata["enable-oslogin"] == "FALSE"
    error_message = "the caller's metadata must be added and win over the module's"
  }
}

run "labels_role_and_health_rule_placement" {
  command = plan

  assert {
    condition     = google_compute_instance_template.this.labels == tomap({ team = "net", vpclink = "reconciler" })
    error_message = "the VMs must carry the caller's labels plus vpclink = kind"
  }
  assert {
    condition     = keys(output.role_ids) == ["vpc-host", "vpclink-test"]
    error_message = "the custom role must exist in project and every route project"
  }
  assert {
    condition     = output.health_check_firewall.project == "vpc-host" && output.health_check_firewall.network == "projects/vpc-host/global/networks/vpc-a"
    error_message = "the health checkers' rule must be on nic0's network, in that network's project"
  }
  assert {
    condition     = google_project_iam_custom_role.this["vpclink-test"].title == "vpclink reconciler (vpclink-x)" && google_service_account.this.display_name == "vpclink reconciler (vpclink-x)"
    error_message = "the role's title, and by default the account's display name, must name the service and the group"
  }
  assert {
    condition     = output.health_check.description == "vpclink reconciler liveness for MIG autohealing"
    error_message = "descriptions must name the service from the unit name"
  }
}

# Group names may be 1-40 characters; service account ids must be 6-30.
run "account_id_fits_for_a_long_name" {
  command = plan

  variables {
    name = "vpclink-forwarders-europe-west1-shared-x"
  }

  assert {
    condition     = can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", google_service_account.this.account_id))
    error_message = "a 40-character name must still give a 6-30 character account id, got ${google_service_account.this.account_id}"
  }
  assert {
    condition     = startswith(google_service_account.this.account_id, "vpclink-forwarders-eu") && google_service_account.this.account_id != "vpclink-forwarders-europe-west1-s"
    error_message = "a long name is cut and told apart by a hash suffix"
  }
}

run "account_id_fits_for_a_short_name" {
  command = plan

  variables {
    name = "fwd"
  }

  assert {
    condition     = google_service_account.this.account_id == "fwd-vpclink"
    error_message = "a name under 6 characters is padded to a valid account id, got ${google_service_account.this.account_id}"
  }
}

run "account_id_is_the_name_where_it_fits" {
  command = plan

  assert {
    condition     = google_service_account.this.account_id == "vpclink-x"
    error_message = "names of 6-30 characters keep their account id (no new account on upgrade)"
  }
}

run "binary_read_on_the_object_alone" {
  command = plan

  variables {
    vpclink_url = "gs://releases-bucket/vpclink/v1/vpclink-linux-amd64"
  }

  assert {
    condition     = google_storage_bucket_iam_member.binary[0].bucket == "releases-bucket" && google_storage_bucket_iam_member.binary[0].role == "roles/storage.objectViewer"
    error_message = "read must be granted on the release bucket, as objectViewer"
  }
  assert {
    condition     = google_storage_bucket_iam_member.binary[0].condition[0].expression == "resource.name == \"projects/_/buckets/releases-bucket/objects/vpclink/v1/vpclink-linux-amd64\""
    error_message = "the grant must be conditional on the binary's object name, not the whole bucket"
  }
}

run "no_bucket_grant_for_https" {
  command = plan

  assert {
    condition     = length(google_storage_bucket_iam_member.binary) == 0
    error_message = "an https:// binary needs no bucket grant"
  }
}
