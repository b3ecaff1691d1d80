data "aws_partition" "current" {}

# Latest Amazon Linux 2023 from AWS's public SSM parameter, unless an AMI is pinned.
data "aws_ssm_parameter" "al2023" {
  count = var.ami_id == null ? 1 : 0

  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

locals {
  ami_id              = coalesce(var.ami_id, try(data.aws_ssm_parameter.al2023[0].value, null))
  assumable_role_arns = compact([var.ci_role_arn, var.deploy_role_arn])
}

################################################################################
# Security Group
################################################################################

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-"
  description = "Jenkins controller: UI from allowed CIDRs, egress for Git, ECR and AWS APIs"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    create_before_destroy = true
  }
}

# Nothing is open by default: the UI is reachable only from the listed CIDRs (VPN,
# office). GitHub webhooks need their published ranges here, or use polling.
resource "aws_vpc_security_group_ingress_rule" "ui" {
  for_each = toset(var.allowed_ui_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "Jenkins UI and webhooks"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = var.jenkins_port
  to_port           = var.jenkins_port

  tags = merge(var.tags, { Name = "${var.name}-ui" })
}

# SSH is off by default: SSM Session Manager gives a shell without an open port.
resource "aws_vpc_security_group_ingress_rule" "ssh" {
  for_each = toset(var.allowed_ssh_cidr_blocks)

  security_group_id = aws_security_group.this.id
  description       = "SSH"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22

  tags = merge(var.tags, { Name = "${var.name}-ssh" })
}

# A build server talks to Git hosts, package mirrors, ECR and the AWS APIs.
resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.this.id
  description       = "Outbound for builds"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"

  tags = merge(var.tags, { Name = "${var.name}-egress" })
}

################################################################################
# IAM Role
################################################################################

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-instance"
  description        = "Jenkins controller: CI (push images) and assuming the CD deploy role"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = merge(var.tags, { Name = "${var.name}-instance" })
}

data "aws_iam_policy_document" "this" {
  # The instance itself can change nothing: CI and CD each assume their own role per
  # run (withAWS(role: ...) in the Jenkinsfiles), so a job only holds the permissions
  # of the pipeline it belongs to.
  statement {
    sid       = "AssumePipelineRoles"
    actions   = ["sts:AssumeRole"]
    resources = local.assumable_role_arns
  }
}

# The role ARNs come from the iam module and are unknown until it applies, so whether
# there are any is checked at apply, not by a count (which must be known at plan).
resource "aws_iam_role_policy" "this" {
  name   = "assume-ci-and-deploy-roles"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json

  lifecycle {
    precondition {
      condition     = length(local.assumable_role_arns) > 0
      error_message = "The Jenkins instance role may only assume the pipeline roles: pass ci_role_arn and/or deploy_role_arn (iam outputs)."
    }
  }
}

resource "aws_iam_role_policy_attachment" "ssm" {
  count = var.enable_ssm ? 1 : 0

  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-instance"
  role = aws_iam_role.this.name

  tags = merge(var.tags, { Name = "${var.name}-instance" })
}

################################################################################
# Instance
################################################################################

# In a private subnet without a public IP by default: the UI is reached through SSM
# Session Manager port forwarding, or from allow-listed CIDRs (VPN, peering), and
# egress (Git, ECR, AWS APIs) goes through the NAT gateway.
resource "aws_instance" "this" {
  ami                         = local.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = concat([aws_security_group.this.id], var.additional_security_group_ids)
  iam_instance_profile        = aws_iam_instance_profile.this.name
  associate_public_ip_address = var.associate_public_ip_address
  key_name                    = var.key_name
  # Docker layer pulls and pushes share the volume with JENKINS_HOME: keep EBS traffic
  # off the instance's network bandwidth.
  ebs_optimized = true
  # One-minute metrics: a build that pins the CPU shows up before the next one queues.
  monitoring = var.detailed_monitoring

  # IMDSv2 only: a request-forgery bug in a build job cannot read the role's
  # credentials through a plain GET. Hop limit 2 lets Docker builds on the host
  # reach the metadata service too.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    encrypted             = true
    delete_on_termination = true

    tags = merge(var.tags, { Name = "${var.name}-root" })
  }

  user_data = coalesce(var.user_data, templatefile("${path.module}/user-data.sh.tftpl", {
    jenkins_port = var.jenkins_port
  }))

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    # A new AMI release must not replace the controller and its JENKINS_HOME.
    ignore_changes = [ami, user_data]
  }
}
