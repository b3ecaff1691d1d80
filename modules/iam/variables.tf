variable "name" {
  description = "Prefix of the role names (<name>-ecs-execution, <name>-ecs-task, <name>-deploy)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,40}$", var.name))
    error_message = "name must be 1-40 characters valid in IAM role names (the suffixes take the rest of the 64)."
  }
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary applied to every role, if your organisation requires one."
  type        = string
  default     = null
}

################################################################################
# Task Execution Role
################################################################################

variable "ecr_repository_arns" {
  description = "ECR repositories the tasks pull from (ecr-repository output repository_arn of each service)."
  type        = list(string)

  validation {
    condition     = length(var.ecr_repository_arns) > 0 && alltrue([for a in var.ecr_repository_arns : can(regex("^arn:aws[a-z-]*:ecr:", a))])
    error_message = "ecr_repository_arns must list at least one ECR repository ARN."
  }
}

variable "log_group_arns" {
  description = "CloudWatch log groups the tasks write to, built from their names (ecs-task-definition needs this module's roles, so its outputs cannot feed back here). Empty allows /ecs/<name>-* in this region."
  type        = list(string)
  default     = []
}

variable "secret_arns" {
  description = "Secrets Manager secret ARNs the task definitions' secrets reference (project.kdl: service.NAME.secret-arns)."
  type        = list(string)
  default     = []
}

variable "ssm_parameter_names" {
  description = "SSM parameter names (paths starting with /) the task definitions' secrets reference, in this account and region (project.kdl: service.NAME.ssm-parameters)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for name in var.ssm_parameter_names : startswith(name, "/")])
    error_message = "SSM parameter names are paths starting with /."
  }
}

variable "secret_kms_key_arns" {
  description = "Customer-managed KMS keys that encrypt those secrets."
  type        = list(string)
  default     = []
}

################################################################################
# Task Role
################################################################################

variable "task_role_policy_json" {
  description = "Inline policy (JSON) for the application's own AWS calls; null grants nothing."
  type        = string
  default     = null
}

################################################################################
# Deploy Role
################################################################################

variable "create_deploy_role" {
  description = "Create the role the CD pipeline assumes to run terraform and roll out ECS."
  type        = bool
  default     = true
}

variable "deploy_role_trusted_principal_arns" {
  description = "Roles allowed to assume the deploy role, e.g. the Jenkins instance role ARN (wildcards allowed). They may be created after this module."
  type        = list(string)
  default     = []
}

variable "deploy_role_max_session_duration" {
  description = "Maximum session length in seconds; long enough for a full apply with wait_for_steady_state."
  type        = number
  default     = 3600

  validation {
    condition     = var.deploy_role_max_session_duration >= 3600 && var.deploy_role_max_session_duration <= 43200
    error_message = "deploy_role_max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "state_bucket_arn" {
  description = "S3 bucket holding the Terraform state (remote-backend output bucket_arn). Required when create_deploy_role is true."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", coalesce(var.state_bucket_arn, "x")))
    error_message = "state_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::bucket-name)."
  }
}

variable "state_key_prefix" {
  description = "Prefix of the state objects the deploy role may read and write; empty means the whole bucket."
  type        = string
  default     = ""
}

variable "lock_table_arn" {
  description = "DynamoDB lock table (remote-backend output dynamodb_table_arn); null when locking with the S3 lock file only."
  type        = string
  default     = null
}

variable "deploy_role_additional_policy_arns" {
  description = "Managed policies attached to the deploy role, e.g. write access for creating the network and load balancers."
  type        = list(string)
  default     = []
}

################################################################################
# CI Role
################################################################################

variable "create_ci_role" {
  description = "Create the role the CI pipeline assumes to push images and write the shared cache."
  type        = bool
  default     = false
}

variable "ci_role_name" {
  description = "Name of the CI role; null names it <name>-ci. One CI role can serve every env that shares the repositories."
  type        = string
  default     = null
}

variable "ci_role_trusted_principal_arns" {
  description = "Roles allowed to assume the CI role; empty uses deploy_role_trusted_principal_arns."
  type        = list(string)
  default     = []
}

################################################################################
# Shared Cache
################################################################################

variable "cache_bucket_arn" {
  description = "S3 bucket of forge's shared cache (project.kdl `cache { s3 ... }`): the CI role reads and writes it, the deploy role reads it. null grants neither."
  type        = string
  default     = null

  validation {
    condition     = var.cache_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", coalesce(var.cache_bucket_arn, "x")))
    error_message = "cache_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::bucket-name)."
  }
}

variable "cache_prefix" {
  description = "Key prefix of the shared cache in that bucket (project.kdl `prefix=`)."
  type        = string
  default     = ""
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
