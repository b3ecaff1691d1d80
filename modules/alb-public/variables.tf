################################################################################
# Load Balancer
################################################################################

variable "name" {
  description = "Name of the load balancer (at most 32 characters, letters, digits and hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$", var.name))
    error_message = "name must be 1-32 letters, digits or hyphens, not starting or ending with a hyphen."
  }
}

variable "subnet_ids" {
  description = "Public subnets for the ALB, in at least two AZs (subnets module output public_subnet_ids)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An application load balancer needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the ALB (security-groups module output public_alb_security_group_id)."
  type        = list(string)
}

variable "idle_timeout" {
  description = "Seconds a connection may stay idle."
  type        = number
  default     = 60
}

variable "enable_deletion_protection" {
  description = "Refuse to delete the load balancer through the API (turn on in prod)."
  type        = bool
  default     = false
}

variable "access_logs_bucket" {
  description = "S3 bucket (name) for the access logs, in the ALB's region, whose policy lets ELB log delivery write (log-bucket module output bucket_id); null: no access logs."
  type        = string
  default     = null
}

variable "access_logs_prefix" {
  description = "Key prefix of the access logs in that bucket."
  type        = string
  default     = "alb-public"
}

variable "web_acl_arn" {
  description = "WAFv2 web ACL (scope REGIONAL) to associate with the ALB; null: none."
  type        = string
  default     = null
}

################################################################################
# Target Group
################################################################################

variable "vpc_id" {
  description = "ID of the VPC (vpc module output vpc_id)."
  type        = string
}

variable "target_group_name" {
  description = "Name of the target group; defaults to \"<name>-tg\"."
  type        = string
  default     = null

  validation {
    condition     = var.target_group_name == null || length(coalesce(var.target_group_name, "x")) <= 32
    error_message = "target_group_name must be at most 32 characters."
  }
}

variable "target_port" {
  description = "Container port the targets (frontend tasks) listen on."
  type        = number
  default     = 8080

  validation {
    condition     = var.target_port >= 1 && var.target_port <= 65535
    error_message = "target_port must be between 1 and 65535."
  }
}

variable "health_check_path" {
  description = "HTTP path the ALB probes on each target."
  type        = string
  default     = "/healthz"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with /."
  }
}

variable "health_check_matcher" {
  description = "HTTP codes that count as healthy."
  type        = string
  default     = "200"
}

variable "health_check_interval" {
  description = "Seconds between health checks."
  type        = number
  default     = 15
}

variable "deregistration_delay" {
  description = "Seconds to drain a target before deregistering it (shortens deployments when low)."
  type        = number
  default     = 30
}

################################################################################
# Listeners
################################################################################

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener. When null, port 80 forwards instead of redirecting and no HTTPS listener exists."
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener: TLS 1.3 and 1.2 only by default."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = contains(["ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06", "ELBSecurityPolicy-FS-1-2-Res-2020-10"], var.ssl_policy)
    error_message = "ssl_policy must be a policy that refuses TLS 1.0 and 1.1 (e.g. ELBSecurityPolicy-TLS13-1-2-2021-06)."
  }
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
