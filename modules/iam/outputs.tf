################################################################################
# Task Execution Role
################################################################################

output "execution_role_arn" {
  description = "ARN of the task execution role (ecs-task-definition input execution_role_arn)."
  value       = try(aws_iam_role.execution.arn, null)
}

output "execution_role_name" {
  description = "Name of the task execution role."
  value       = try(aws_iam_role.execution.name, null)
}

################################################################################
# Task Role
################################################################################

output "task_role_arn" {
  description = "ARN of the task role (ecs-task-definition input task_role_arn)."
  value       = try(aws_iam_role.task.arn, null)
}

output "task_role_name" {
  description = "Name of the task role."
  value       = try(aws_iam_role.task.name, null)
}

################################################################################
# Deploy Role
################################################################################

output "deploy_role_arn" {
  description = "ARN of the CD deploy role (jenkins-ec2 input deploy_role_arn; the role CD assumes)."
  value       = try(aws_iam_role.deploy[0].arn, null)
}

output "deploy_role_name" {
  description = "Name of the CD deploy role."
  value       = try(aws_iam_role.deploy[0].name, null)
}

################################################################################
# CI Role
################################################################################

output "ci_role_arn" {
  description = "ARN of the CI role (null unless create_ci_role); Jenkins' CI job assumes it."
  value       = try(aws_iam_role.ci[0].arn, null)
}

output "ci_role_name" {
  description = "Name of the CI role (null unless create_ci_role)."
  value       = try(aws_iam_role.ci[0].name, null)
}
