################################################################################
# Log Group
################################################################################

output "log_group_name" {
  description = "CloudWatch log group of the container."
  value       = local.log_group_name
}

output "log_group_arn" {
  description = "ARN of the log group, or null when create_log_group is false."
  value       = try(aws_cloudwatch_log_group.this[0].arn, null)
}

################################################################################
# Task Definition
################################################################################

output "task_definition_arn" {
  description = "ARN of this revision (ecs-service input task_definition_arn)."
  value       = try(aws_ecs_task_definition.this.arn, null)
}

output "family" {
  description = "Task definition family."
  value       = try(aws_ecs_task_definition.this.family, null)
}

output "revision" {
  description = "Revision number of this task definition."
  value       = try(aws_ecs_task_definition.this.revision, null)
}

output "container_name" {
  description = "Name of the container (ecs-service input container_name)."
  value       = local.container_name
}

output "container_port" {
  description = "Port of the container (ecs-service input container_port)."
  value       = var.container_port
}

output "image" {
  description = "The image reference the task runs, repository@sha256:..."
  value       = local.image
}
