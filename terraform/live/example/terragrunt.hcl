# Example environment: one project with VPC A (consumer, nic0) and VPC B
# (producer, nic1). Each subfolder is one terragrunt unit that includes this
# file; apply them in order forwarders, reconciler, monitoring (or
# `terragrunt run --all apply` from here, which follows the dependencies).
#
# Scale the forwarders with: cd forwarders && terragrunt apply -var num_instances=N

locals {
  project = "my-vpclink-project"
  region  = "us-central1"
  zones   = ["us-central1-a", "us-central1-b", "us-central1-c"]

  # Where the startup scripts fetch the vpclink binary (make build, then upload).
  vpclink_url = "gs://my-vpclink-project-releases/vpclink/v0.5.0/vpclink-linux-amd64"
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
  project     = local.project
  region      = local.region
  zones       = local.zones
  vpclink_url = local.vpclink_url
}
