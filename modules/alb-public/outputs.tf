################################################################################
# Load Balancer
################################################################################

output "lb_arn" {
  description = "ARN of the load balancer."
  value       = try(aws_lb.this.arn, null)
}

output "lb_dns_name" {
  description = "Public DNS name of the load balancer (point a CNAME or alias here)."
  value       = try(aws_lb.this.dns_name, null)
}

output "lb_zone_id" {
  description = "Hosted zone ID of the load balancer, for Route 53 alias records."
  value       = try(aws_lb.this.zone_id, null)
}

output "lb_arn_suffix" {
  description = "ARN suffix of the load balancer, for CloudWatch metrics."
  value       = try(aws_lb.this.arn_suffix, null)
}

################################################################################
# Target Group
################################################################################

output "target_group_arn" {
  description = "ARN of the target group (ecs-service input target_group_arn). Only known once a listener uses it."
  value       = try(aws_lb_target_group.this.arn, null)

  # ECS rejects a service whose target group is not yet attached to a load balancer
  # ("The target group ... does not have an associated load balancer"). Publishing the
  # ARN only after the listeners exist orders ecs-service after them.
  depends_on = [aws_lb_listener.http_redirect, aws_lb_listener.http_forward, aws_lb_listener.https]
}

################################################################################
# Listeners
################################################################################

output "http_listener_arn" {
  description = "ARN of the port-80 listener (redirecting with a certificate, forwarding without)."
  value       = try(coalesce(one(aws_lb_listener.http_redirect[*].arn), one(aws_lb_listener.http_forward[*].arn)), null)
}

output "https_listener_arn" {
  description = "ARN of the port-443 listener, or null without a certificate."
  value       = try(aws_lb_listener.https[0].arn, null)
}

output "url" {
  description = "Base URL of the application."
  value       = try("${local.https_enabled ? "https" : "http"}://${aws_lb.this.dns_name}", null)
}
