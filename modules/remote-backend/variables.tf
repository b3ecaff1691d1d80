################################################################################
# State Bucket
################################################################################

variable "bucket_name" {
  description = "Globally unique name of the state bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the bucket and the lock table; null uses AES256 / AWS-owned keys."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow destroying the bucket while it holds state. Keep false."
  type        = bool
  default     = false
}

variable "access_logs_bucket" {
  description = "Bucket (name) for the state bucket's server access logs (log-bucket module output bucket_id); null: none."
  type        = string
  default     = null
}

variable "access_logs_prefix" {
  description = "Key prefix of those access logs."
  type        = string
  default     = "s3-access/state/"
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which superseded state versions are deleted."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "noncurrent_versions_to_keep" {
  description = "Superseded versions always kept regardless of age; null expires by age only."
  type        = number
  default     = 10

  validation {
    condition     = var.noncurrent_versions_to_keep == null || try(var.noncurrent_versions_to_keep >= 1 && var.noncurrent_versions_to_keep <= 100, false)
    error_message = "noncurrent_versions_to_keep must be between 1 and 100 (the S3 limit), or null."
  }
}

################################################################################
# Lock Table
################################################################################

variable "create_dynamodb_table" {
  description = "Create the DynamoDB lock table. Terraform >= 1.10 can lock with an S3 lock file instead (use_lockfile = true); both may be used together during a migration."
  type        = bool
  default     = true
}

variable "dynamodb_table_name" {
  description = "Name of the lock table."
  type        = string
  default     = "terraform-locks"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.dynamodb_table_name))
    error_message = "dynamodb_table_name must be 3-255 letters, digits, underscores, dots or hyphens."
  }
}

variable "dynamodb_deletion_protection" {
  description = "Refuse to delete the lock table through the API."
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
