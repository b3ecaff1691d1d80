################################################################################
# Log Bucket
################################################################################

variable "bucket_name" {
  description = "Globally unique name of the log bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit."
  }
}

variable "retention_days" {
  description = "Days after which log objects are deleted."
  type        = number
  default     = 365

  validation {
    condition     = var.retention_days >= 1
    error_message = "retention_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Allow destroying the bucket while it holds logs."
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
