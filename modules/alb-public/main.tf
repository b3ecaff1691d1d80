locals {
  https_enabled = var.certificate_arn != null
}

################################################################################
# Load Balancer
################################################################################

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_150:Deletion protection is the enable_deletion_protection input: off for dev stacks that are torn down, on in prod (project.kdl env "prod").
  #checkov:skip=CKV_AWS_91:Access logs are the access_logs_bucket input (a bucket in the same region with the ELB log-delivery policy, e.g. the log-bucket module's), set in prod.
  #checkov:skip=CKV2_AWS_28:WAF is the web_acl_arn input: the web ACL and its rules (and their cost) are the account owner's choice, not this module's.
  #checkov:skip=CKV2_AWS_76:The web ACL (and so its Log4j rule group) is created outside this module and passed as web_acl_arn.
  #checkov:skip=CKV2_AWS_20:With certificate_arn, port 80 only redirects (http_redirect); the forwarding listener exists only without one, for dev.
  name               = var.name
  load_balancer_type = "application"
  internal           = false

  subnets         = var.subnet_ids
  security_groups = var.security_group_ids

  idle_timeout               = var.idle_timeout
  enable_deletion_protection = var.enable_deletion_protection
  # Malformed headers are a request-smuggling vector; the app never needs them.
  drop_invalid_header_fields = true

  # One log line per request, to S3 (the log-bucket module's bucket, or any bucket whose
  # policy lets ELB log delivery write).
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

# The request filter in front of the ALB (a WAFv2 web ACL of scope REGIONAL, e.g. the
# AWS managed rule groups), when one is given.
resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl_arn == null ? 0 : 1

  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.web_acl_arn
}

################################################################################
# Target Group
################################################################################

# Fargate tasks in awsvpc mode register by IP, so target_type must be "ip": the
# "instance" default fails at service creation.
resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; the hop to the task stays in the VPC, allowed by security groups for this port only, and the images serve plain HTTP.
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

# With a certificate, port 80 only redirects to HTTPS.
resource "aws_lb_listener" "http_redirect" {
  count = local.https_enabled ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-http" })
}

# Without a certificate (a dev stack with no domain), port 80 serves. prod always sets
# certificate_arn (project.kdl env "prod").
resource "aws_lb_listener" "http_forward" {
  #checkov:skip=CKV_AWS_2:Exists only without certificate_arn, for dev stacks without a domain; with one, port 80 only redirects (http_redirect).
  #checkov:skip=CKV_AWS_103:Same listener: no TLS without certificate_arn, by choice of the input.
  count = local.https_enabled ? 0 : 1

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
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
