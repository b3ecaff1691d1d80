################################################################################
# Service
################################################################################

variable "name" {
  description = "Name of the ECS service."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.name))
    error_message = "name must be 1-255 letters, digits, hyphens or underscores."
  }
}

variable "cluster_arn" {
  description = "Cluster to run in (ecs-cluster output cluster_arn)."
  type        = string
}

variable "task_definition_arn" {
  description = "Task definition revision to run (ecs-task-definition output task_definition_arn)."
  type        = string
}

variable "desired_count" {
  description = "Number of tasks to keep running. Two or more spreads them over AZs."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 0 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number >= 0."
  }
}

variable "platform_version" {
  description = "Fargate platform version."
  type        = string
  default     = "LATEST"
}

variable "subnet_ids" {
  description = "Private subnets for the tasks (subnets module output private_subnet_ids). They must route 0.0.0.0/0 to a NAT gateway, or have ECR/S3/logs endpoints."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "Give at least one private subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the tasks (security-groups output frontend_security_group_id or backend_security_group_id)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1
    error_message = "Give at least one security group: tasks without one get the VPC default group, which the vpc module empties."
  }
}

variable "target_group_arn" {
  description = "Target group the tasks register with (alb-public or alb-internal output target_group_arn); null for a service without a load balancer."
  type        = string
  default     = null
}

variable "container_name" {
  description = "Container that receives load balancer traffic (ecs-task-definition output container_name)."
  type        = string
  default     = null
}

variable "container_port" {
  description = "Port of that container (ecs-task-definition output container_port)."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535
    error_message = "container_port must be between 1 and 65535."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds after a task starts during which failed load balancer health checks are ignored."
  type        = number
  default     = 30
}

variable "deployment_minimum_healthy_percent" {
  description = "Lower bound of running tasks during a deployment, as a percentage of desired_count."
  type        = number
  default     = 100
}

variable "deployment_maximum_percent" {
  description = "Upper bound of running tasks during a deployment, as a percentage of desired_count."
  type        = number
  default     = 200

  validation {
    condition     = var.deployment_maximum_percent >= 100
    error_message = "deployment_maximum_percent must be at least 100 so a rolling deployment can start new tasks."
  }
}

variable "enable_rollback" {
  description = "Roll back to the last steady deployment when the circuit breaker trips (the breaker itself is always on)."
  type        = bool
  default     = true
}

variable "enable_execute_command" {
  description = "Allow `aws ecs execute-command` into running tasks (needs ssmmessages permissions on the task role)."
  type        = bool
  default     = false
}

variable "wait_for_steady_state" {
  description = "Make terraform apply wait until the deployment is steady (or rolled back)."
  type        = bool
  default     = true
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
