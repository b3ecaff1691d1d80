# The only allowed traffic path, and every rule it needs (each hop needs an egress
# rule on the sender AND an ingress rule on the receiver; miss one and the hop fails):
#
#   internet --80/443--> public ALB --frontend_port--> frontend tasks
#   frontend tasks --internal_alb_port--> internal ALB --backend_port--> backend tasks
#
# plus HTTPS egress from the tasks to AWS endpoints (ECR, S3 layers, CloudWatch Logs)
# through the NAT gateway. Terraform removes the allow-all egress rule AWS adds to new
# security groups, so nothing here leaves except what is listed.

locals {
  public_ingress = {
    for pair in setproduct(var.public_alb_ingress_cidr_blocks, var.public_alb_ports) :
    "${pair[0]}-${pair[1]}" => { cidr = pair[0], port = pair[1] }
  }
}

################################################################################
# Public ALB
################################################################################

resource "aws_security_group" "public_alb" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: its ID is an output the ALB and ecs-service modules take.
  name_prefix = "${var.name}-public-alb-"
  description = "Public ALB: HTTP/HTTPS from the internet, out to frontend tasks only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-public-alb" })

  # Security groups referenced by rules elsewhere cannot be deleted first.
  lifecycle {
    create_before_destroy = true
  }
}

# Rule 1: internet -> public ALB on the listener ports (80 redirects, 443 serves).
resource "aws_vpc_security_group_ingress_rule" "public_alb_from_internet" {
  for_each = local.public_ingress

  security_group_id = aws_security_group.public_alb.id
  description       = "Internet to public ALB listener port ${each.value.port}"
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port

  tags = merge(var.tags, { Name = "${var.name}-public-alb-from-internet-${each.value.port}" })
}

# Rule 2: public ALB -> frontend tasks. Without it targets never pass health checks
# and the ALB answers 502/503.
resource "aws_vpc_security_group_egress_rule" "public_alb_to_frontend" {
  security_group_id            = aws_security_group.public_alb.id
  description                  = "Public ALB to frontend tasks"
  referenced_security_group_id = aws_security_group.frontend.id
  ip_protocol                  = "tcp"
  from_port                    = var.frontend_port
  to_port                      = var.frontend_port

  tags = merge(var.tags, { Name = "${var.name}-public-alb-to-frontend" })
}

################################################################################
# Frontend Tasks
################################################################################

resource "aws_security_group" "frontend" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: its ID is an output the ALB and ecs-service modules take.
  name_prefix = "${var.name}-frontend-"
  description = "Frontend ECS tasks: from the public ALB only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-frontend" })

  lifecycle {
    create_before_destroy = true
  }
}

# Rule 3: frontend tasks accept traffic from the public ALB and nothing else.
resource "aws_vpc_security_group_ingress_rule" "frontend_from_public_alb" {
  security_group_id            = aws_security_group.frontend.id
  description                  = "Public ALB to frontend container port"
  referenced_security_group_id = aws_security_group.public_alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.frontend_port
  to_port                      = var.frontend_port

  tags = merge(var.tags, { Name = "${var.name}-frontend-from-public-alb" })
}

# Rule 4: frontend tasks -> internal ALB. The rule that is easiest to forget: the
# frontend resolves the internal ALB's DNS name to private IPs in the VPC.
resource "aws_vpc_security_group_egress_rule" "frontend_to_internal_alb" {
  security_group_id            = aws_security_group.frontend.id
  description                  = "Frontend tasks to internal ALB"
  referenced_security_group_id = aws_security_group.internal_alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.internal_alb_port
  to_port                      = var.internal_alb_port

  tags = merge(var.tags, { Name = "${var.name}-frontend-to-internal-alb" })
}

# Rule 5: frontend tasks -> HTTPS (ECR API, S3 image layers, CloudWatch Logs).
# Without it the task never starts: CannotPullContainerError / ResourceInitializationError.
resource "aws_vpc_security_group_egress_rule" "frontend_to_aws_https" {
  for_each = toset(var.task_egress_cidr_blocks)

  security_group_id = aws_security_group.frontend.id
  description       = "Frontend tasks to AWS endpoints over HTTPS (image pull, logs)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = merge(var.tags, { Name = "${var.name}-frontend-to-https" })
}

################################################################################
# Internal ALB
################################################################################

resource "aws_security_group" "internal_alb" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: its ID is an output the ALB and ecs-service modules take.
  name_prefix = "${var.name}-internal-alb-"
  description = "Internal ALB: from frontend tasks only, out to backend tasks only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-internal-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

# Rule 6: internal ALB accepts only the frontend tasks.
resource "aws_vpc_security_group_ingress_rule" "internal_alb_from_frontend" {
  #checkov:skip=CKV_AWS_260:The source is the frontend tasks' security group (referenced_security_group_id), not 0.0.0.0/0; checkov misreads a rule without cidr_ipv4.
  security_group_id            = aws_security_group.internal_alb.id
  description                  = "Frontend tasks to internal ALB listener"
  referenced_security_group_id = aws_security_group.frontend.id
  ip_protocol                  = "tcp"
  from_port                    = var.internal_alb_port
  to_port                      = var.internal_alb_port

  tags = merge(var.tags, { Name = "${var.name}-internal-alb-from-frontend" })
}

# Rule 7: internal ALB -> backend tasks (traffic and health checks).
resource "aws_vpc_security_group_egress_rule" "internal_alb_to_backend" {
  security_group_id            = aws_security_group.internal_alb.id
  description                  = "Internal ALB to backend tasks"
  referenced_security_group_id = aws_security_group.backend.id
  ip_protocol                  = "tcp"
  from_port                    = var.backend_port
  to_port                      = var.backend_port

  tags = merge(var.tags, { Name = "${var.name}-internal-alb-to-backend" })
}

################################################################################
# Backend Tasks
################################################################################

resource "aws_security_group" "backend" {
  #checkov:skip=CKV2_AWS_5:Attached outside this module: its ID is an output the ALB and ecs-service modules take.
  name_prefix = "${var.name}-backend-"
  description = "Backend ECS tasks: from the internal ALB only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-backend" })

  lifecycle {
    create_before_destroy = true
  }
}

# Rule 8: backend tasks accept traffic from the internal ALB and nothing else.
resource "aws_vpc_security_group_ingress_rule" "backend_from_internal_alb" {
  security_group_id            = aws_security_group.backend.id
  description                  = "Internal ALB to backend container port"
  referenced_security_group_id = aws_security_group.internal_alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.backend_port
  to_port                      = var.backend_port

  tags = merge(var.tags, { Name = "${var.name}-backend-from-internal-alb" })
}

# Rule 9: backend tasks -> HTTPS (ECR API, S3 image layers, CloudWatch Logs).
resource "aws_vpc_security_group_egress_rule" "backend_to_aws_https" {
  for_each = toset(var.task_egress_cidr_blocks)

  security_group_id = aws_security_group.backend.id
  description       = "Backend tasks to AWS endpoints over HTTPS (image pull, logs)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443

  tags = merge(var.tags, { Name = "${var.name}-backend-to-https" })
}
