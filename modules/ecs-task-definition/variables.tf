################################################################################
# Log Group
################################################################################

variable "create_log_group" {
  description = "Create the CloudWatch log group the container logs to."
  type        = bool
  default     = true
}

variable "log_group_name" {
  description = "CloudWatch log group name; defaults to /ecs/<family>."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days to keep container logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key to encrypt the log group; null uses CloudWatch's default encryption."
  type        = string
  default     = null
}

################################################################################
# Task Definition
################################################################################

variable "family" {
  description = "Task definition family (usually <project>-<env>-<service>)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,255}$", var.family))
    error_message = "family must be 1-255 letters, digits, hyphens or underscores."
  }
}

variable "container_name" {
  description = "Name of the container; defaults to family. ecs-service must use the same name for its load balancer."
  type        = string
  default     = null
}

variable "image_repository_url" {
  description = "Repository URL without tag or digest (ecr-repository output repository_url)."
  type        = string

  validation {
    condition     = !can(regex("@", var.image_repository_url)) && !can(regex(":[^/]*$", var.image_repository_url))
    error_message = "image_repository_url must not carry a tag or digest; pass the digest in image_digest."
  }
}

variable "image_digest" {
  description = "Image manifest digest, sha256:<64 hex>. The container image is repository_url@digest, never a tag."
  type        = string

  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.image_digest))
    error_message = "image_digest must be sha256: followed by 64 lowercase hex digits (the digest docker push or forge build reports)."
  }
}

variable "container_port" {
  description = "Port the application listens on (its $PORT)."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535
    error_message = "container_port must be between 1 and 65535."
  }
}

variable "cpu" {
  description = "Fargate task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB; must be a valid pairing with cpu (256 CPU: 512-2048)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "execution_role_arn" {
  description = "Role the ECS agent uses to pull the image, write logs and read secrets (iam output execution_role_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", var.execution_role_arn))
    error_message = "execution_role_arn must be an IAM role ARN."
  }
}

variable "task_role_arn" {
  description = "Role the application assumes for its own AWS calls (iam output task_role_arn); null gives the app no AWS credentials."
  type        = string
  default     = null

  validation {
    condition     = var.task_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", coalesce(var.task_role_arn, "x")))
    error_message = "task_role_arn must be an IAM role ARN or null."
  }
}

variable "environment" {
  description = "Plain environment variables of the container. Never put secrets here: use secrets."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables filled from Secrets Manager or SSM Parameter Store when a task starts: name => secret ARN, or SSM parameter ARN or name (a name resolves in the task's region). The execution role must be allowed to read them (iam secret_arns, ssm_parameter_names)."
  type        = map(string)
  default     = {}
}

variable "readonly_root_filesystem" {
  description = "Mount the container's root filesystem read-only."
  type        = bool
  default     = true
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL when the task stops."
  type        = number
  default     = 30

  validation {
    condition     = var.stop_timeout >= 0 && var.stop_timeout <= 120
    error_message = "stop_timeout must be between 0 and 120 seconds (the Fargate maximum)."
  }
}

variable "init_process_enabled" {
  description = "Run an init process as PID 1 that forwards signals, so the app exits on SIGTERM without handling it."
  type        = bool
  default     = true
}

variable "health_check_command" {
  description = "Container health check command, e.g. [\"CMD\", \"/app\", \"--healthcheck\"]. Null leaves health to the load balancer (scratch images have no shell)."
  type        = list(string)
  default     = null
}

variable "skip_destroy" {
  description = "Keep previous revisions registered when a new one replaces them, so rollbacks can use them."
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
