# The three modules wired together in plain terraform: the same environment as
# terraform/live/example (terragrunt), here so that `terraform validate`
# type-checks how the modules' outputs feed each other's inputs.

terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 9.0"
    }
  }
}

variable "project" {
  description = "Project holding VPC A, VPC B and vpclink."
  type        = string
  default     = "my-vpclink-project"
}

variable "region" {
  description = "Region of the forwarders and reconcilers."
  type        = string
  default     = "us-central1"
}

variable "num_instances" {
  description = "Number of forwarders."
  type        = number
  default     = 2
}

variable "vpclink_url" {
  description = "Where VMs download the vpclink binary."
  type        = string
  default     = "gs://my-vpclink-project-releases/vpclink/v0.5.0/vpclink-linux-amd64"
}

variable "vpclink_sha256" {
  description = "SHA-256 of the binary at vpclink_url (sha256sum); VMs refuse one that does not match. The default is a placeholder."
  type        = string
  default     = "0000000000000000000000000000000000000000000000000000000000000000"
}

provider "google" {
  project = var.project
  region  = var.region
}

locals {
  network_a = "projects/${var.project}/global/networks/vpc-a"
  network_b = "projects/${var.project}/global/networks/vpc-b"
  subnets   = "projects/${var.project}/regions/${var.region}/subnetworks"
}

module "forwarders" {
  source = "../../modules/forwarders"

  project        = var.project
  region         = var.region
  num_instances  = var.num_instances
  vpclink_url    = var.vpclink_url
  vpclink_sha256 = var.vpclink_sha256

  nic0 = { network = local.network_a, subnetwork = "${local.subnets}/vpc-a-forwarders" }
  nic1 = { network = local.network_b, subnetwork = "${local.subnets}/vpc-b-forwarders" }

  routes             = [{ network = "vpc-a", dest_ranges = ["10.19.16.0/20"] }]
  policy_routing_via = ["10.19.16.0/20"]
}

module "reconciler" {
  source = "../../modules/reconciler"

  project        = var.project
  region         = var.region
  vpclink_url    = var.vpclink_url
  vpclink_sha256 = var.vpclink_sha256

  network                   = { network = local.network_a, subnetwork = "${local.subnets}/vpc-a-ops" }
  forwarder_service_account = module.forwarders.service_account_email
  route_prefix              = module.forwarders.route_prefix
  groups                    = [{ name = module.forwarders.group_name, region = module.forwarders.region }]
  allow                     = [{ network = "vpc-a", dest_ranges = ["10.19.0.0/16"], prefix_length_min = 16, prefix_length_max = 24 }]
  probe                     = { port = module.forwarders.health_port }
}

module "monitoring" {
  source = "../../modules/monitoring"

  project        = var.project
  reconciler_job = module.reconciler.metrics_job
}

output "forwarder_group" {
  description = "Pass to scripts/rolling_update."
  value       = module.forwarders.group_name
}
