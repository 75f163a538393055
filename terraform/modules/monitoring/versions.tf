terraform {
  required_version = ">= 1.9"

  required_providers {
    # The google provider alone: no google-beta, random, archive or cloudinit,
    # so `terraform init` needs exactly one provider (`make deps` builds it).
    # The upper bound: a new major version is tested here before it is allowed.
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 9.0"
    }
  }
}
