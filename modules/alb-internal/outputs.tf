################################################################################
# Load Balancer
################################################################################

output "lb_arn" {
  description = "ARN of the load balancer."
  value       = try(aws_lb.this.arn, null)
}

output "lb_dns_name" {
  description = "Private DNS name of the load balancer."
  value       = try(aws_lb.this.dns_name, null)
}

output "lb_zone_id" {
  description = "Hosted zone ID of the load balancer, for private Route 53 alias records."
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
  description = "ARN of the target group (ecs-service input target_group_arn)."
  value       = try(aws_lb_target_group.this.arn, null)

  # Ordering ecs-service after the listener: ECS rejects a target group that no load
  # balancer uses yet.
  depends_on = [aws_lb_listener.this]
}

################################################################################
# Listener
################################################################################

output "listener_arn" {
  description = "ARN of the listener."
  value       = try(aws_lb_listener.this.arn, null)
}

output "url" {
  description = "Base URL the frontend uses to reach the backend (frontend env BACKEND_URL)."
  value       = try("${var.certificate_arn == null ? "http" : "https"}://${aws_lb.this.dns_name}${contains([80, 443], var.listener_port) ? "" : ":${var.listener_port}"}", null)
}
