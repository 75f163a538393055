# Example environment: one project with VPC A (consumer, nic0) and VPC B
# (producer, nic1). Each subfolder is one terragrunt unit that includes this
# file (root.hcl: terragrunt deprecates a root file named terragrunt.hcl);
# apply them in order forwarders, reconciler, monitoring (or
# `terragrunt run --all apply` from here, which follows the dependencies).
# Each unit commits its .terraform.lock.hcl: every init gets the same
# provider.
#
# Scale the forwarders by editing num_instances in forwarders/terragrunt.hcl
# and applying: the file is the record. A `-var num_instances=N` would be
# undone, scaling back in without warning, by the next apply without it.

locals {
  project = "my-vpclink-project"
  region  = "us-central1"
  zones   = ["us-central1-a", "us-central1-b", "us-central1-c"]

  # Where the startup scripts fetch the vpclink binary (make build, then
  # upload), and its SHA-256 (sha256sum bin/vpclink): VMs refuse a binary
  # that does not match. Placeholder: replace with your build's digest.
  vpclink_url    = "gs://my-vpclink-project-releases/vpclink/v0.5.0/vpclink-linux-amd64"
  vpclink_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
}

# State per unit in one GCS bucket (create it once, with versioning on).
remote_state {
  backend = "gcs"
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
  config = {
    bucket = "${local.project}-tfstate"
    prefix = "vpclink/example/${path_relative_to_include()}"
  }
}

generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOT
    provider "google" {
      project = "${local.project}"
      region  = "${local.region}"
    }
  EOT
}

inputs = {
  project        = local.project
  region         = local.region
  zones          = local.zones
  vpclink_url    = local.vpclink_url
  vpclink_sha256 = local.vpclink_sha256
}
