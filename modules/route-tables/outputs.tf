################################################################################
# Public Route Table
################################################################################

output "public_route_table_id" {
  description = "ID of the public route table, or null when there are no public subnets."
  value       = try(aws_route_table.public[0].id, null)
}

################################################################################
# NAT Gateway
################################################################################

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways."
  value       = aws_nat_gateway.this[*].id
}

output "nat_public_ips" {
  description = "Elastic IPs of the NAT gateways: the source address of all outbound traffic from private subnets (allow-list these upstream)."
  value       = aws_eip.nat[*].public_ip
}

################################################################################
# Private Route Tables
################################################################################

output "private_route_table_ids" {
  description = "IDs of the private route tables (use them for S3/DynamoDB gateway endpoints)."
  value       = aws_route_table.private[*].id
}
