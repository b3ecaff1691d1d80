################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  cidr_block = var.cidr_block

  # Both must be on for ECR, CloudWatch Logs and interface endpoints to resolve
  # from private subnets; ALB and ECS rely on VPC DNS.
  enable_dns_support   = var.enable_dns_support
  enable_dns_hostnames = var.enable_dns_hostnames

  tags = merge(var.tags, { Name = var.name }, var.vpc_tags)
}

################################################################################
# Internet Gateway
################################################################################

resource "aws_internet_gateway" "this" {
  count = var.create_igw ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name }, var.igw_tags)
}

################################################################################
# Default Security Group
################################################################################

# The default security group allows all traffic between its members. Adopting it
# with no rules means nothing can quietly fall back to it: every workload must use
# a security group from the security-groups module, where each rule is spelled out.
resource "aws_default_security_group" "this" {
  count = var.manage_default_security_group ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })
}
