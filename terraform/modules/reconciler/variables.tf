variable "project" {
  description = "Project of the reconciler VMs and the forwarder groups they watch (config `project`)."
  type        = string
}

variable "region" {
  description = "Region of the reconciler's regional MIG."
  type        = string
}

variable "zones" {
  description = "Zones the reconciler replicas spread over. Empty: GCE picks."
  type        = list(string)
  default     = []
}

variable "name" {
  description = "Name of the reconciler group and prefix of its resources."
  type        = string
  default     = "vpclink-reconciler"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", var.name))
    error_message = "name must be a lowercase RFC 1035 name of at most 40 characters."
  }
}

variable "replicas" {
  description = "Reconciler VMs. Two run side by side safely (every action is idempotent) and keep pruning while one is replaced."
  type        = number
  default     = 2

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 2 && floor(var.replicas) == var.replicas
    error_message = "replicas must be 1 or 2 (for more forwarder groups, shard them over several reconciler modules)."
  }
}

variable "machine_type" {
  description = "Machine type of a reconciler VM."
  type        = string
  default     = "e2-small"
}

variable "image" {
  description = "Boot image of a reconciler VM."
  type        = string
  default     = "projects/debian-cloud/global/images/family/debian-12"
}

variable "network" {
  description = "Where the reconciler VMs live: the VPC A side, from which they reach forwarders' nic0 and Google APIs (Private Google Access or NAT)."
  type = object({
    network            = string
    subnetwork         = string
    subnetwork_project = optional(string)
  })
}

variable "forwarder_service_account" {
  description = "Email of the forwarders' service account: the target of the probe firewall rule."
  type        = string
}

variable "route_projects" {
  description = "Projects (besides `project`) holding the routes it prunes and restores, e.g. a Shared VPC host."
  type        = list(string)
  default     = []
}

variable "route_prefix" {
  description = "routePrefix: names of the routes vpclink owns start with it."
  type        = string
  default     = "vpclink"
}

variable "groups" {
  description = "Forwarder MIGs to watch: each zonal (zone) or regional (region), not both."
  type = list(object({
    name   = string
    zone   = optional(string)
    region = optional(string)
  }))

  validation {
    condition     = length(var.groups) > 0 && alltrue([for g in var.groups : (g.zone == null) != (g.region == null)])
    error_message = "groups must name at least one group, each with exactly one of zone or region."
  }
}

variable "allow" {
  description = "Allowlist for restores: a restored route must be in one of these networks, with a priority in range, and either equal one of its dest_ranges or, when prefix_length_min/max are set, lie inside one with a prefix length in that range."
  type = list(object({
    network           = string
    project           = optional(string, "")
    dest_ranges       = list(string)
    priority_min      = optional(number, 100)
    priority_max      = optional(number, 1000)
    prefix_length_min = optional(number)
    prefix_length_max = optional(number)
  }))

  validation {
    condition = alltrue(flatten([
      for a in var.allow : [for c in a.dest_ranges : can(regex("^[0-9.]+/[0-9]+$", c)) && try(cidrsubnet(c, 0, 0) == c, false)]
    ]))
    error_message = "every allow[*].dest_ranges entry must be an IPv4 CIDR with no host bits set, such as 10.19.0.0/16."
  }

  validation {
    condition     = alltrue([for a in var.allow : a.priority_min >= 0 && a.priority_min <= a.priority_max && a.priority_max <= 65535])
    error_message = "allow[*] priorities must satisfy 0 <= priority_min <= priority_max <= 65535."
  }

  validation {
    # HCL evaluates both sides of && and ?:, so nulls go through coalesce.
    condition = alltrue([for a in var.allow : (a.prefix_length_min == null) == (a.prefix_length_max == null) &&
      coalesce(a.prefix_length_min, 0) >= 0 && coalesce(a.prefix_length_min, 0) <= coalesce(a.prefix_length_max, 32) &&
    coalesce(a.prefix_length_max, 32) <= 32])
    error_message = "allow[*] prefix lengths: set both prefix_length_min and prefix_length_max, with 0 <= min <= max <= 32, or neither."
  }
}

variable "healthz_fail_after" {
  description = "The reconciler's /healthz fails when no pass has read the API for this long, so its MIG autoheals it (config healthz.failAfter)."
  type        = string
  default     = "5m"
}

variable "probe" {
  description = "How forwarders are probed on nic0 (config `probe`)."
  type = object({
    port      = optional(number, 9780)
    path      = optional(string, "/readyz")
    interval  = optional(string, "1s")
    timeout   = optional(string, "800ms")
    failures  = optional(number, 3)
    successes = optional(number, 2)
  })
  default = {}

  validation {
    condition     = var.probe.failures >= 1 && var.probe.successes >= 1 && startswith(var.probe.path, "/")
    error_message = "probe.failures and probe.successes must be at least 1 and probe.path must start with /."
  }
}

variable "min_healthy_fraction" {
  description = "Fail static: probe evidence prunes only while at least this fraction of a group's RUNNING forwarders is healthy."
  type        = number
  default     = 0.5

  validation {
    condition     = var.min_healthy_fraction >= 0 && var.min_healthy_fraction <= 1
    error_message = "min_healthy_fraction must be from 0 to 1."
  }
}

variable "boot_grace" {
  description = "A forwarder younger than this with no successful probe yet is Starting: neither pruned nor restored."
  type        = string
  default     = "120s"
}

variable "interval" {
  description = "Period of a full reconcile pass (API lists)."
  type        = string
  default     = "10s"
}

variable "listen_port" {
  description = "Port of the reconciler's /status, /metrics, /healthz (config `listen` is \":<port>\")."
  type        = number
  default     = 9781
}

variable "vpclink_url" {
  description = "Where the startup script downloads the vpclink binary: https:// or gs:// (read with the reconciler's service account, which gets read on that object alone: grant_binary_read)."
  type        = string

  validation {
    condition     = can(regex("^(https://|gs://)", var.vpclink_url))
    error_message = "vpclink_url must start with https:// or gs://."
  }
}

variable "vpclink_sha256" {
  description = "SHA-256 (hex) of the binary at vpclink_url, as metadata vpclink-binary-sha256: the startup script refuses a binary that does not match, and downloads again only when the installed one does not match. Required."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-fA-F]{64}$", var.vpclink_sha256))
    error_message = "vpclink_sha256 must be 64 hex digits (sha256sum's output)."
  }
}

variable "grant_binary_read" {
  description = "For a gs:// vpclink_url, grant the reconciler's service account roles/storage.objectViewer on that object alone (a conditional binding on the bucket: needs uniform bucket-level access). False: grant it yourself."
  type        = bool
  default     = true
}

variable "autohealing_initial_delay" {
  description = "Seconds after a reconciler VM's creation before autohealing's health check (/healthz) counts: boot, the binary's download and the unit's start. The startup script starts the unit before anything slow (the Ops Agent installs in the background)."
  type        = number
  default     = 120

  validation {
    condition     = var.autohealing_initial_delay >= 0 && var.autohealing_initial_delay <= 3600
    error_message = "autohealing_initial_delay must be from 0 to 3600 seconds."
  }
}

variable "reconciler_unit" {
  description = "Content of vpclink-reconciler.service, as metadata vpclink-unit. Null: the repository's systemd/vpclink-reconciler.service."
  type        = string
  default     = null
}

variable "ops_agent" {
  description = "Install Google's Ops Agent: journal to Cloud Logging, /metrics to Managed Service for Prometheus (job vpclink-reconciler)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on the VMs."
  type        = map(string)
  default     = {}
}
