################################################################################
# Public ALB
################################################################################

output "public_alb_security_group_id" {
  description = "Security group for the public ALB (alb-public input security_group_ids)."
  value       = try(aws_security_group.public_alb.id, null)
}

################################################################################
# Frontend Tasks
################################################################################

output "frontend_security_group_id" {
  description = "Security group for the frontend ECS service (ecs-service input security_group_ids)."
  value       = try(aws_security_group.frontend.id, null)
}

################################################################################
# Internal ALB
################################################################################

output "internal_alb_security_group_id" {
  description = "Security group for the internal ALB (alb-internal input security_group_ids)."
  value       = try(aws_security_group.internal_alb.id, null)
}

################################################################################
# Backend Tasks
################################################################################

output "backend_security_group_id" {
  description = "Security group for the backend ECS service (ecs-service input security_group_ids)."
  value       = try(aws_security_group.backend.id, null)
}
