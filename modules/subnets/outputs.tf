################################################################################
# Public Subnets
################################################################################

output "public_subnet_ids" {
  description = "IDs of the public subnets, in the order of azs."
  value       = aws_subnet.public[*].id
}

output "public_subnet_cidr_blocks" {
  description = "CIDR blocks of the public subnets."
  value       = aws_subnet.public[*].cidr_block
}

################################################################################
# Private Subnets
################################################################################

output "private_subnet_ids" {
  description = "IDs of the private subnets, in the order of azs."
  value       = aws_subnet.private[*].id
}

output "private_subnet_cidr_blocks" {
  description = "CIDR blocks of the private subnets."
  value       = aws_subnet.private[*].cidr_block
}

output "azs" {
  description = "Availability zones actually used, in subnet order."
  value       = slice(var.azs, 0, max(length(var.public_subnet_cidrs), length(var.private_subnet_cidrs)))
}
