################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:Flow logs are the flow_logs_bucket_arn input (aws_flow_log.this below): on in prod, off in dev stacks to save the delivery cost.
  cidr_block = var.cidr_block

  # Both must be on for ECR, CloudWatch Logs and interface endpoints to resolve
  # from private subnets; ALB and ECS rely on VPC DNS.
  enable_dns_support   = var.enable_dns_support
  enable_dns_hostnames = var.enable_dns_hostnames

  tags = merge(var.tags, { Name = var.name }, var.vpc_tags)
}

################################################################################
# Flow Logs
################################################################################

# Every accepted and rejected connection in the VPC, to S3 (the log-bucket module's
# bucket): what a security group let through, or refused, after the fact.
resource "aws_flow_log" "this" {
  count = var.flow_logs_bucket_arn == null ? 0 : 1

  vpc_id                   = aws_vpc.this.id
  traffic_type             = var.flow_logs_traffic_type
  log_destination_type     = "s3"
  log_destination          = "${var.flow_logs_bucket_arn}/${var.flow_logs_prefix}"
  max_aggregation_interval = 600

  destination_options {
    file_format                = "parquet"
    hive_compatible_partitions = true
    per_hour_partition         = true
  }

  tags = merge(var.tags, { Name = "${var.name}-flow-logs" })
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
