variable "name" {
  description = "Prefix for route table and NAT gateway Name tags."
  type        = string
}

variable "vpc_id" {
  description = "ID of the VPC (vpc module output vpc_id)."
  type        = string
}

################################################################################
# Public Route Table
################################################################################

variable "public_subnet_ids" {
  description = "Public subnet IDs in AZ order (subnets module output public_subnet_ids). Their list length must be known at plan time."
  type        = list(string)
  default     = []
}

variable "internet_gateway_id" {
  description = "Internet gateway for the public default route (vpc module output igw_id)."
  type        = string
  default     = null
}

################################################################################
# NAT Gateway
################################################################################

variable "enable_nat_gateway" {
  description = "Give private subnets outbound internet access through NAT. Required for ECR image pulls unless you add VPC endpoints for ECR, S3 and CloudWatch Logs."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway shared by all private subnets (cheaper, single-AZ dependency) instead of one per AZ."
  type        = bool
  default     = false
}

################################################################################
# Private Route Tables
################################################################################

variable "private_subnet_ids" {
  description = "Private subnet IDs in AZ order (subnets module output private_subnet_ids). Their list length must be known at plan time."
  type        = list(string)
  default     = []
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
