################################################################################
# VPC
################################################################################

output "vpc_id" {
  description = "ID of the VPC."
  value       = try(aws_vpc.this.id, null)
}

output "vpc_arn" {
  description = "ARN of the VPC."
  value       = try(aws_vpc.this.arn, null)
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  value       = try(aws_vpc.this.cidr_block, null)
}

################################################################################
# Internet Gateway
################################################################################

output "igw_id" {
  description = "ID of the internet gateway, or null when create_igw is false."
  value       = try(aws_internet_gateway.this[0].id, null)
}

################################################################################
# Default Security Group
################################################################################

output "default_security_group_id" {
  description = "ID of the VPC's default security group."
  value       = try(aws_vpc.this.default_security_group_id, null)
}

################################################################################
# Flow Logs
################################################################################

output "flow_log_id" {
  description = "ID of the VPC flow log, or null without flow_logs_bucket_arn."
  value       = try(aws_flow_log.this[0].id, null)
}
