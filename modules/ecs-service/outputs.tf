################################################################################
# Service
################################################################################

output "service_id" {
  description = "ID (ARN) of the service."
  value       = try(aws_ecs_service.this.id, null)
}

output "service_name" {
  description = "Name of the service."
  value       = try(aws_ecs_service.this.name, null)
}

output "cluster_arn" {
  description = "Cluster the service runs in."
  value       = try(aws_ecs_service.this.cluster, null)
}

output "task_definition_arn" {
  description = "Task definition revision the service was last set to."
  value       = try(aws_ecs_service.this.task_definition, null)
}
