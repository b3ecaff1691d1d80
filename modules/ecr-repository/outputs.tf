################################################################################
# Repository
################################################################################

output "repository_arn" {
  description = "ARN of the repository (iam inputs ecr_repository_arns, jenkins-ec2 input ecr_repository_arns)."
  value       = try(aws_ecr_repository.this.arn, null)
}

output "repository_name" {
  description = "Name of the repository."
  value       = try(aws_ecr_repository.this.name, null)
}

output "repository_url" {
  description = "Repository URL without tag (ecs-task-definition input image_repository_url)."
  value       = try(aws_ecr_repository.this.repository_url, null)
}

output "registry_id" {
  description = "Account ID of the registry."
  value       = try(aws_ecr_repository.this.registry_id, null)
}

################################################################################
# Lifecycle Policy
################################################################################

output "lifecycle_policy" {
  description = "The lifecycle policy JSON, or null when none is attached."
  value       = try(aws_ecr_lifecycle_policy.this[0].policy, null)
}
