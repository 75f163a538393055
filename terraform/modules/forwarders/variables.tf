variable "project" {
  description = "Project that holds the forwarder group, its service account and (by default) the routes."
  type        = string
}

variable "region" {
  description = "Region of the regional managed instance group and both subnets."
  type        = string
}

variable "zones" {
  description = "Zones the group spreads over (distribution policy). Empty: every zone of the region that GCE picks."
  type        = list(string)
  default     = []
}

variable "name" {
  description = "Name of the group, the base name of its instances and the prefix of every other resource here."
  type        = string
  default     = "vpclink-fwd"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$", var.name))
    error_message = "name must be a lowercase RFC 1035 name of at most 40 characters (room for the suffixes added here)."
  }
}

variable "max_instances" {
  description = "Upper bound that num_instances is checked against, so that a typo fails at plan time instead of creating that many VMs and one route per VM and range (routes count against the project's quota)."
  type        = number
  default     = 16

  validation {
    condition     = var.max_instances >= 1 && var.max_instances <= 64
    error_message = "max_instances must be from 1 to 64."
  }
}

variable "num_instances" {
  description = "Number of forwarders (the group's target size). 0 empties the group. Change it where it is set (terragrunt: num_instances in forwarders/terragrunt.hcl) and apply: a -var on the command line is undone by the next apply without it, which scales back without warning."
  type        = number
  default     = 2

  validation {
    condition     = var.num_instances >= 0 && var.num_instances <= var.max_instances && floor(var.num_instances) == var.num_instances
    error_message = "num_instances must be a whole number from 0 to max_instances (default 16)."
  }
}

variable "machine_type" {
  description = "Machine type of a forwarder. Forwarding throughput scales with vCPUs (egress bandwidth per VM)."
  type        = string
  default     = "e2-standard-2"
}

variable "image" {
  description = "Boot image (self link or family URL). The startup script (scripts/startup-script.sh) expects bash, systemd and curl (Debian, Ubuntu, RHEL-like)."
  type        = string
  default     = "projects/debian-cloud/global/images/family/debian-12"
}

variable "nic0" {
  description = "VPC A side: network and subnetwork of nic0 (the consumer VPC; health checks and probes arrive here)."
  type = object({
    network            = string
    subnetwork         = string
    subnetwork_project = optional(string)
  })
}

variable "nic1" {
  description = "VPC B side: network and subnetwork of nic1 (the producer VPC; policy routing table rt1 points here)."
  type = object({
    network            = string
    subnetwork         = string
    subnetwork_project = optional(string)
  })
}

variable "routes" {
  description = "GCE routes every forwarder announces (the agent config's `routes`): per network and project, the destination ranges, priority, tags and next-hop mode."
  type = list(object({
    network     = string
    project     = optional(string, "")
    dest_ranges = list(string)
    priority    = optional(number, 900)
    tags        = optional(list(string), [])
    next_hop    = optional(string, "instance")
  }))

  validation {
    condition = alltrue(flatten([
      for r in var.routes : [for c in r.dest_ranges : can(cidrhost(c, 0)) && can(regex("^[0-9.]+/[0-9]+$", c)) && try(cidrsubnet(c, 0, 0) == c, false)]
    ]))
    error_message = "every routes[*].dest_ranges entry must be an IPv4 CIDR with no host bits set, such as 10.19.16.0/20."
  }

  validation {
    condition     = alltrue([for r in var.routes : r.priority >= 0 && r.priority <= 65535 && floor(r.priority) == r.priority])
    error_message = "routes[*].priority must be a whole number from 0 to 65535."
  }

  validation {
    condition     = alltrue([for r in var.routes : contains(["instance", "ip"], r.next_hop)])
    error_message = "routes[*].next_hop must be \"instance\" (nextHopInstance) or \"ip\" (nextHopIp, for a network in another project)."
  }

  validation {
    condition     = alltrue([for r in var.routes : length(r.dest_ranges) > 0])
    error_message = "routes[*].dest_ranges must name at least one range."
  }
}

variable "policy_routing_via" {
  description = "Ranges that the agent routes in the main table via nic1's gateway (the agent config's policyRouting.via): the VPC B ranges."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.policy_routing_via : can(regex("^[0-9.]+/[0-9]+$", c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "every policy_routing_via entry must be an IPv4 CIDR with no host bits set."
  }
}

variable "route_prefix" {
  description = "Name prefix of every route vpclink owns (routePrefix in agent and reconciler config)."
  type        = string
  default     = "vpclink"
}

variable "health_port" {
  description = "Port of the agent's /healthz, /readyz, /status and /metrics."
  type        = number
  default     = 9780
}

variable "drain_grace" {
  description = "How long the agent keeps forwarding after GCE reports its routes deleted (drain.grace)."
  type        = string
  default     = "10s"
}

variable "route_projects" {
  description = "Projects (besides `project`) where forwarders write routes, e.g. a Shared VPC host project. The custom role is created and granted in each."
  type        = list(string)
  default     = []
}

variable "vpclink_url" {
  description = "Where the startup script downloads the vpclink binary: an https:// URL or a gs://bucket/object, read with the forwarders' service account, which gets read on that object alone (grant_binary_read)."
  type        = string

  validation {
    condition     = can(regex("^(https://|gs://)", var.vpclink_url))
    error_message = "vpclink_url must start with https:// or gs://."
  }
}

variable "vpclink_sha256" {
  description = "SHA-256 (hex) of the binary at vpclink_url, as metadata vpclink-binary-sha256: the startup script refuses a binary that does not match (it runs as root on VMs that may change routes), and downloads again only when the installed one does not match. Required: publish the digest with the binary (sha256sum)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-fA-F]{64}$", var.vpclink_sha256))
    error_message = "vpclink_sha256 must be 64 hex digits (sha256sum's output)."
  }
}

variable "grant_binary_read" {
  description = "For a gs:// vpclink_url, grant the forwarders' service account roles/storage.objectViewer on that object alone (a conditional binding on the bucket: needs uniform bucket-level access, and whoever applies must be able to set the bucket's IAM policy). False: grant it yourself."
  type        = bool
  default     = true
}

variable "agent_unit" {
  description = "Content of vpclink-agent.service, as metadata vpclink-unit. Null: the repository's systemd/vpclink-agent.service."
  type        = string
  default     = null
}

variable "ops_agent" {
  description = "Install Google's Ops Agent on each forwarder, shipping the agent's JSON journal to Cloud Logging and scraping /metrics into Managed Service for Prometheus (what the monitoring module reads)."
  type        = bool
  default     = true
}

variable "autohealing_initial_delay" {
  description = "Seconds after a VM's creation before autohealing's health check counts: boot, image packages and the agent's first ready."
  type        = number
  default     = 180
}

variable "wait_for_stable" {
  description = "Make apply wait until the group is stable (every VM created and healthy), as the release checklist asks (MIG status.isStable)."
  type        = bool
  default     = true
}

variable "forwarded_source_ranges" {
  description = "The two sides' ranges whose traffic the forwarders carry: packets from vpc_a ranges to vpc_b ranges arriving on nic0, and from vpc_b ranges to vpc_a ranges arriving on nic1 (GCE's firewall applies to forwarded packets too). Both or neither: the rules name one side as source and the other as destination, so neither opens a port on the forwarders themselves."
  type = object({
    vpc_a = optional(list(string), [])
    vpc_b = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = alltrue([for c in concat(var.forwarded_source_ranges.vpc_a, var.forwarded_source_ranges.vpc_b) : can(regex("^[0-9.]+/[0-9]+$", c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "every forwarded_source_ranges entry must be an IPv4 CIDR with no host bits set."
  }

  validation {
    condition     = (length(var.forwarded_source_ranges.vpc_a) > 0) == (length(var.forwarded_source_ranges.vpc_b) > 0)
    error_message = "forwarded_source_ranges needs both vpc_a and vpc_b (each side is the other's destination), or neither."
  }
}

variable "ssh_source_ranges" {
  description = "Ranges allowed to reach tcp/22 on the forwarders' nic0, e.g. [\"35.235.240.0/20\"] for IAP TCP forwarding. Empty: no SSH rule."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.ssh_source_ranges : can(regex("^[0-9.]+/[0-9]+$", c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "every ssh_source_ranges entry must be an IPv4 CIDR with no host bits set."
  }
}

variable "operators" {
  description = "IAM members (user:, group:, serviceAccount:) who run `vpclink drain`, `undrain`, `rollout`, `status` and `plan` against this group: granted the operator role in `project` and each of `route_projects`, and roles/iam.serviceAccountUser on the forwarders' service account (GCE asks for it to change the metadata of a VM that runs as a service account). Empty: the role is still created, for granting elsewhere."
  type        = list(string)
  default     = []
}

variable "labels" {
  description = "Labels on the VMs."
  type        = map(string)
  default     = {}
}
