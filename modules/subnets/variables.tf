################################################################################
# Public Subnets
################################################################################

variable "name" {
  description = "Prefix for subnet Name tags."
  type        = string
}

variable "vpc_id" {
  description = "ID of the VPC the subnets belong to (vpc module output vpc_id)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123abcd."
  }
}

variable "azs" {
  description = "Availability zones; subnet N of each tier is placed in azs[N]. Use at least two: ALBs require subnets in two AZs."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2
    error_message = "Give at least two availability zones: an ALB needs subnets in two AZs."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets, one per AZ, in the order of azs."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every public_subnet_cidrs entry must be a valid IPv4 CIDR."
  }
}

variable "map_public_ip_on_launch" {
  description = "Give instances launched in public subnets a public IP. Off by default: Jenkins asks for one explicitly and ALBs do not need it."
  type        = bool
  default     = false
}

variable "public_subnet_tags" {
  description = "Extra tags for the public subnets."
  type        = map(string)
  default     = {}
}

################################################################################
# Private Subnets
################################################################################

variable "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets, one per AZ, in the order of azs."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.private_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "Every private_subnet_cidrs entry must be a valid IPv4 CIDR."
  }
}

variable "private_subnet_tags" {
  description = "Extra tags for the private subnets."
  type        = map(string)
  default     = {}
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
