################################################################################
# Cluster
################################################################################

variable "name" {
  description = "Name of the ECS cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.name))
    error_message = "name must be 1-255 letters, digits, hyphens or underscores."
  }
}

variable "container_insights" {
  description = "Enable CloudWatch Container Insights (per-task CPU/memory metrics; billed)."
  type        = bool
  default     = true
}

variable "execute_command_log_group_name" {
  description = "CloudWatch log group that records ECS Exec sessions; null keeps the default logging."
  type        = string
  default     = null
}

################################################################################
# Capacity Providers
################################################################################

variable "enable_fargate_spot" {
  description = "Also register FARGATE_SPOT so services can opt into interruptible capacity."
  type        = bool
  default     = false
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
