# The forwarder MIG. Scale it by changing num_instances here and applying (0
# empties it): this file is the record, so the next apply keeps the size. A
# plain `terragrunt apply` after changing the image or the binary only
# updates the instance template: roll it out with scripts/rolling_update.
include "root" {
  path   = find_in_parent_folders("root.hcl")
  expose = true
}

terraform {
  # The whole repository is the source, so the module finds
  # systemd/vpclink-agent.service and scripts/startup-script.sh.
  source = "${get_repo_root()}//terraform/modules/forwarders"
}

inputs = {
  name          = "vpclink-fwd"
  num_instances = 2

  nic0 = {
    network    = "projects/${include.root.locals.project}/global/networks/vpc-a"
    subnetwork = "projects/${include.root.locals.project}/regions/${include.root.locals.region}/subnetworks/vpc-a-forwarders"
  }
  nic1 = {
    network    = "projects/${include.root.locals.project}/global/networks/vpc-b"
    subnetwork = "projects/${include.root.locals.project}/regions/${include.root.locals.region}/subnetworks/vpc-b-forwarders"
  }

  # VPC A sends the producer ranges to the forwarders.
  routes = [{
    network     = "vpc-a"
    dest_ranges = ["10.19.16.0/20"]
    priority    = 900
  }]
  policy_routing_via = ["10.19.16.0/20"]

  # Who may run vpclink drain/undrain/rollout/status/plan (operator role).
  operators = [
    # "group:net-oncall@example.com",
  ]

  forwarded_source_ranges = {
    vpc_a = ["10.0.0.0/16"]
    vpc_b = ["10.19.16.0/20"]
  }
}
