locals {
  https_enabled = var.certificate_arn != null
}

################################################################################
# Load Balancer
################################################################################

resource "aws_lb" "this" {
  name               = var.name
  load_balancer_type = "application"
  internal           = false

  subnets         = var.subnet_ids
  security_groups = var.security_group_ids

  idle_timeout               = var.idle_timeout
  enable_deletion_protection = var.enable_deletion_protection
  # Malformed headers are a request-smuggling vector; the app never needs them.
  drop_invalid_header_fields = true

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Target Group
################################################################################

# Fargate tasks in awsvpc mode register by IP, so target_type must be "ip": the
# "instance" default fails at service creation.
resource "aws_lb_target_group" "this" {
  name        = coalesce(var.target_group_name, "${var.name}-tg")
  vpc_id      = var.vpc_id
  target_type = "ip"
  protocol    = "HTTP"
  port        = var.target_port

  deregistration_delay = var.deregistration_delay

  # Must match what the container really serves, or ECS kills healthy tasks in a loop
  # ("Task failed ELB health checks") and the circuit breaker rolls back.
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
# Listeners
################################################################################

# With a certificate, port 80 only redirects to HTTPS; without one it serves.
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  dynamic "default_action" {
    for_each = local.https_enabled ? [1] : []

    content {
      type = "redirect"

      redirect {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  dynamic "default_action" {
    for_each = local.https_enabled ? [] : [1]

    content {
      type             = "forward"
      target_group_arn = aws_lb_target_group.this.arn
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-http" })
}

resource "aws_lb_listener" "https" {
  count = local.https_enabled ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = merge(var.tags, { Name = "${var.name}-https" })
}
