terraform {
  required_version = ">= 1.9"

  required_providers {
    # The google provider alone: no google-beta, random, archive or cloudinit,
    # so `terraform init` needs exactly one provider (test/terraform.sh builds it).
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }
}
