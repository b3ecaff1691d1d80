locals {
  # One NAT gateway is cheaper; one per AZ keeps private subnets online when an AZ
  # fails. Either way NAT gateway N sits in public subnet N.
  nat_gateway_count = var.enable_nat_gateway ? (var.single_nat_gateway ? 1 : length(var.private_subnet_ids)) : 0

  # Private route tables follow the NAT gateways: one shared table for a single NAT
  # (or none), one per AZ otherwise, so each AZ routes through its own NAT.
  private_route_table_count = var.enable_nat_gateway && !var.single_nat_gateway ? length(var.private_subnet_ids) : min(1, length(var.private_subnet_ids))
}

################################################################################
# Public Route Table
################################################################################

resource "aws_route_table" "public" {
  count = length(var.public_subnet_ids) > 0 ? 1 : 0

  vpc_id = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

# The route that makes a public subnet public.
resource "aws_route" "public_internet_gateway" {
  count = length(var.public_subnet_ids) > 0 ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = var.internet_gateway_id

  timeouts {
    create = "5m"
  }
}

resource "aws_route_table_association" "public" {
  count = length(var.public_subnet_ids)

  subnet_id      = var.public_subnet_ids[count.index]
  route_table_id = aws_route_table.public[0].id
}

################################################################################
# NAT Gateway
################################################################################

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${count.index}" })
}

# Private subnets do not have outbound internet access by themselves: without this
# gateway and the route below, Fargate tasks fail with "CannotPullContainerError"
# because ECR, S3 (image layers) and CloudWatch Logs are public endpoints.
resource "aws_nat_gateway" "this" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = var.public_subnet_ids[count.index]

  tags = merge(var.tags, { Name = "${var.name}-nat-${count.index}" })

  # A NAT gateway only forwards traffic once its subnet routes to the internet
  # gateway; creating it earlier leaves it unusable until the route appears.
  depends_on = [aws_route.public_internet_gateway]

  lifecycle {
    precondition {
      condition     = length(var.public_subnet_ids) >= (var.single_nat_gateway ? 1 : length(var.private_subnet_ids))
      error_message = "NAT gateways live in public subnets: give one public subnet (single_nat_gateway) or one per private subnet."
    }
    precondition {
      condition     = var.internet_gateway_id != null
      error_message = "A NAT gateway needs an internet gateway: pass internet_gateway_id (vpc module output igw_id)."
    }
  }
}

################################################################################
# Private Route Tables
################################################################################

resource "aws_route_table" "private" {
  count = local.private_route_table_count

  vpc_id = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-private-${count.index}" })
}

resource "aws_route" "private_nat_gateway" {
  count = var.enable_nat_gateway ? local.private_route_table_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id

  timeouts {
    create = "5m"
  }
}

resource "aws_route_table_association" "private" {
  count = length(var.private_subnet_ids)

  subnet_id      = var.private_subnet_ids[count.index]
  route_table_id = aws_route_table.private[local.private_route_table_count > 1 ? count.index : 0].id
}
