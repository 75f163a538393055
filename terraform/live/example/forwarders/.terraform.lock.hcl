# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/google" {
  version     = "8.0.0"
  constraints = ">= 7.0.0, < 9.0.0"
}
