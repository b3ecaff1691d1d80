################################################################################
# VPC
################################################################################

variable "name" {
  description = "Name used for the VPC and as the prefix of its child resources."
  type        = string

  validation {
    condition     = length(var.name) > 0 && length(var.name) <= 64
    error_message = "name must be 1-64 characters."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC, e.g. 10.0.0.0/16."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && try(tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 28, false)
    error_message = "cidr_block must be a valid IPv4 CIDR with a prefix between /16 and /28 (the AWS limits)."
  }
}

variable "enable_dns_support" {
  description = "Enable the Amazon-provided DNS resolver in the VPC."
  type        = bool
  default     = true
}

variable "enable_dns_hostnames" {
  description = "Give instances with public IPs public DNS hostnames."
  type        = bool
  default     = true
}

variable "vpc_tags" {
  description = "Extra tags for the VPC only."
  type        = map(string)
  default     = {}
}

################################################################################
# Flow Logs
################################################################################

variable "flow_logs_bucket_arn" {
  description = "S3 bucket ARN for VPC flow logs (log-bucket module output bucket_arn); null: no flow logs."
  type        = string
  default     = null
}

variable "flow_logs_prefix" {
  description = "Key prefix of the flow logs in that bucket (no leading or trailing slash)."
  type        = string
  default     = "vpc-flow-logs"
}

variable "flow_logs_traffic_type" {
  description = "Which connections to log: ALL, ACCEPT or REJECT."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ACCEPT", "REJECT"], var.flow_logs_traffic_type)
    error_message = "flow_logs_traffic_type must be ALL, ACCEPT or REJECT."
  }
}

################################################################################
# Internet Gateway
################################################################################

variable "create_igw" {
  description = "Create and attach an internet gateway (needed by public subnets and NAT gateways)."
  type        = bool
  default     = true
}

variable "igw_tags" {
  description = "Extra tags for the internet gateway only."
  type        = map(string)
  default     = {}
}

################################################################################
# Default Security Group
################################################################################

variable "manage_default_security_group" {
  description = "Adopt the VPC's default security group and strip all its rules."
  type        = bool
  default     = true
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
