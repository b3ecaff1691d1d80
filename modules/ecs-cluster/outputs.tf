################################################################################
# Cluster
################################################################################

output "cluster_id" {
  description = "ID of the cluster."
  value       = try(aws_ecs_cluster.this.id, null)
}

output "cluster_arn" {
  description = "ARN of the cluster (ecs-service input cluster_arn)."
  value       = try(aws_ecs_cluster.this.arn, null)
}

output "cluster_name" {
  description = "Name of the cluster."
  value       = try(aws_ecs_cluster.this.name, null)
}

################################################################################
# Capacity Providers
################################################################################

output "capacity_providers" {
  description = "Capacity providers registered on the cluster."
  value       = try(aws_ecs_cluster_capacity_providers.this.capacity_providers, [])
}
