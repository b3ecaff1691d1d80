################################################################################
# Security Group
################################################################################

output "security_group_id" {
  description = "Security group of the controller."
  value       = try(aws_security_group.this.id, null)
}

################################################################################
# IAM Role
################################################################################

output "iam_role_arn" {
  description = "ARN of the instance role (iam input deploy_role_trusted_principal_arns)."
  value       = try(aws_iam_role.this.arn, null)
}

output "iam_role_name" {
  description = "Name of the instance role."
  value       = try(aws_iam_role.this.name, null)
}

output "instance_profile_name" {
  description = "Name of the instance profile."
  value       = try(aws_iam_instance_profile.this.name, null)
}

################################################################################
# Instance
################################################################################

output "instance_id" {
  description = "ID of the Jenkins instance (target of `aws ssm start-session`)."
  value       = try(aws_instance.this.id, null)
}

output "private_ip" {
  description = "Private IP of the instance."
  value       = try(aws_instance.this.private_ip, null)
}

output "public_ip" {
  description = "Public IP of the instance, or null without one."
  value       = try(aws_instance.this.public_ip, null)
}

output "jenkins_url" {
  description = "URL of the Jenkins UI."
  value       = try("http://${coalesce(aws_instance.this.public_ip, aws_instance.this.private_ip)}:${var.jenkins_port}", null)
}
