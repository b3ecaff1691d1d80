################################################################################
# Load Balancer
################################################################################

# internal = true: the DNS name resolves to private IPs only, so the backend has no
# path from the internet. Only the frontend tasks' security group may reach it.
resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_150:Deletion protection is the enable_deletion_protection input: off for dev stacks that are torn down, on in prod (project.kdl env "prod").
  #checkov:skip=CKV_AWS_91:Access logs are the access_logs_bucket input, set in prod.
  #checkov:skip=CKV2_AWS_20:Internal ALB: reachable only from the frontend tasks' security group inside the VPC, so plain HTTP on this hop is a documented choice (README); certificate_arn makes the listener HTTPS.
  name               = var.name
  load_balancer_type = "application"
  internal           = true

  subnets         = var.subnet_ids
  security_groups = var.security_group_ids

  idle_timeout               = var.idle_timeout
  enable_deletion_protection = var.enable_deletion_protection
  drop_invalid_header_fields = true

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [1]

    content {
      bucket  = var.access_logs_bucket
      prefix  = var.access_logs_prefix
      enabled = true
    }
  }

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Target Group
################################################################################

# Fargate tasks in awsvpc mode register by IP: target_type must be "ip".
resource "aws_lb_target_group" "this" {
  name        = coalesce(var.target_group_name, "${var.name}-tg")
  vpc_id      = var.vpc_id
  target_type = "ip"
  protocol    = "HTTP"
  port        = var.target_port

  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    path                = var.health_check_path
    matcher             = var.health_check_matcher
    port                = "traffic-port"
    protocol            = "HTTP"
    interval            = var.health_check_interval
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = merge(var.tags, { Name = coalesce(var.target_group_name, "${var.name}-tg") })
}

################################################################################
# Listener
################################################################################

# Plain HTTP inside the VPC by default; set certificate_arn to encrypt this hop too.
resource "aws_lb_listener" "this" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.listener_port
  protocol          = var.certificate_arn == null ? "HTTP" : "HTTPS"
  ssl_policy        = var.certificate_arn == null ? null : var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = merge(var.tags, { Name = "${var.name}-${var.listener_port}" })
}
