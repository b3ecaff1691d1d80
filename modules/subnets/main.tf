################################################################################
# Public Subnets
################################################################################

# Public subnets hold the public ALB, the Jenkins instance and the NAT gateways.
# Whether a subnet is "public" is decided by its route table (route-tables module),
# not here; the name and tier tag only record the intent.
resource "aws_subnet" "public" {
  count = length(var.public_subnet_cidrs)

  vpc_id                  = var.vpc_id
  cidr_block              = var.public_subnet_cidrs[count.index]
  availability_zone       = var.azs[count.index]
  map_public_ip_on_launch = var.map_public_ip_on_launch

  tags = merge(
    var.tags,
    {
      Name = "${var.name}-public-${var.azs[count.index]}"
      Tier = "public"
    },
    var.public_subnet_tags,
  )

  lifecycle {
    precondition {
      condition     = length(var.public_subnet_cidrs) <= length(var.azs)
      error_message = "Give at least as many azs as public_subnet_cidrs: subnet N goes in azs[N]."
    }
  }
}

################################################################################
# Private Subnets
################################################################################

# Private subnets hold the ECS tasks and the internal ALB. They never map public
# IPs; outbound traffic (ECR image pulls, CloudWatch Logs) goes through the NAT
# gateway that the route-tables module puts in the public subnet of the same AZ.
resource "aws_subnet" "private" {
  count = length(var.private_subnet_cidrs)

  vpc_id                  = var.vpc_id
  cidr_block              = var.private_subnet_cidrs[count.index]
  availability_zone       = var.azs[count.index]
  map_public_ip_on_launch = false

  tags = merge(
    var.tags,
    {
      Name = "${var.name}-private-${var.azs[count.index]}"
      Tier = "private"
    },
    var.private_subnet_tags,
  )

  lifecycle {
    precondition {
      condition     = length(var.private_subnet_cidrs) <= length(var.azs)
      error_message = "Give at least as many azs as private_subnet_cidrs: subnet N goes in azs[N]."
    }
  }
}
