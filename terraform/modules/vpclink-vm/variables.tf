variable "project" {
  description = "Project of the template."
  type        = string
}

variable "region" {
  description = "Region of the template (regional MIGs use it)."
  type        = string
}

variable "name" {
  description = "The templates' name prefix (NAME-<suffix>, so a changed one is created before the old goes) and the service account's id (derived to fit 6-30 characters, see iam.tf)."
  type        = string
}

variable "kind" {
  description = "What the VM is (forwarder, reconciler): the value of label `vpclink`."
  type        = string
}

variable "account_display_name" {
  description = "Display name of the service account. Null: the custom role's title, \"vpclink <service> (<name>)\"."
  type        = string
  default     = null
}

variable "role" {
  description = "The custom role granted to the service account in `project` and each of `route_projects`: id ([a-zA-Z0-9_.] only), description and its exact permissions. Its title is \"vpclink <service> (<name>)\", service from unit_name."
  type = object({
    id          = string
    description = string
    permissions = list(string)
  })
}

variable "route_projects" {
  description = "Projects besides `project` where the custom role is created and granted, e.g. a Shared VPC host."
  type        = list(string)
  default     = []
}

variable "description" {
  description = "Description of the template."
  type        = string
}

variable "machine_type" {
  description = "Machine type of a VM."
  type        = string
}

variable "image" {
  description = "Boot image (self link or family URL) with bash, systemd and curl for the startup script."
  type        = string
}

variable "can_ip_forward" {
  description = "Let the VMs forward packets not addressed to them (forwarders)."
  type        = bool
  default     = false
}

variable "network_interfaces" {
  description = "NICs in order (nic0 first, where health checks arrive): network, subnetwork and, for a Shared VPC, their project."
  type = list(object({
    network            = string
    subnetwork         = string
    subnetwork_project = optional(string)
  }))
}

variable "labels" {
  description = "Labels on the VMs, besides `vpclink = role`."
  type        = map(string)
  default     = {}
}

variable "vpclink_url" {
  description = "Metadata vpclink-binary-url: where the startup script downloads the binary (https:// or gs://)."
  type        = string
}

variable "vpclink_sha256" {
  description = "Metadata vpclink-binary-sha256: the binary's expected SHA-256 (the public modules require it)."
  type        = string
}

variable "grant_binary_read" {
  description = "When vpclink_url is gs://, grant the service account roles/storage.objectViewer on that object alone (a conditional binding on the bucket; needs uniform bucket-level access and permission to set the bucket's IAM policy)."
  type        = bool
  default     = true
}

variable "unit_name" {
  description = "Metadata vpclink-unit-name: the systemd unit the startup script installs and starts, e.g. vpclink-agent.service."
  type        = string
}

variable "unit" {
  description = "Metadata vpclink-unit: the unit's content. Null or empty: the repository's systemd/<unit_name>."
  type        = string
  default     = null
}

variable "ops_agent" {
  description = "Metadata vpclink-ops-agent: install Google's Ops Agent (journal and /metrics), and grant the service account the log and metric writer roles it needs."
  type        = bool
}

variable "port" {
  description = "Port of the service's /healthz (autohealing) and /metrics (metadata vpclink-metrics-port, scraped by the Ops Agent)."
  type        = number
}

variable "metadata" {
  description = "More metadata, e.g. vpclink-config; it wins over the attributes set here."
  type        = map(string)
  default     = {}
}
