# Two reconciler VMs watching the forwarder group.
include "root" {
  path   = find_in_parent_folders("root.hcl")
  expose = true
}

terraform {
  source = "${get_repo_root()}//terraform/modules/reconciler"
}

dependency "forwarders" {
  config_path = "../forwarders"

  # Lets `terragrunt plan/validate` run before the forwarders exist.
  mock_outputs = {
    group_name            = "vpclink-fwd"
    region                = "us-central1"
    service_account_email = "vpclink-fwd@my-vpclink-project.iam.gserviceaccount.com"
    route_prefix          = "vpclink"
    health_port           = 9780
  }
  mock_outputs_allowed_terraform_commands = ["init", "validate", "plan"]
}

inputs = {
  name     = "vpclink-reconciler"
  replicas = 2

  network = {
    network    = "projects/${include.root.locals.project}/global/networks/vpc-a"
    subnetwork = "projects/${include.root.locals.project}/regions/${include.root.locals.region}/subnetworks/vpc-a-ops"
  }

  forwarder_service_account = dependency.forwarders.outputs.service_account_email
  route_prefix              = dependency.forwarders.outputs.route_prefix
  groups = [{
    name   = dependency.forwarders.outputs.group_name
    region = dependency.forwarders.outputs.region
  }]

  # Restores may recreate only routes like the ones the forwarders announce:
  # inside 10.19.0.0/16, /16 to /24 (the forwarders announce a /20).
  allow = [{
    network           = "vpc-a"
    dest_ranges       = ["10.19.0.0/16"]
    priority_min      = 100
    priority_max      = 1000
    prefix_length_min = 16
    prefix_length_max = 24
  }]

  probe = {
    port = dependency.forwarders.outputs.health_port
  }
}
