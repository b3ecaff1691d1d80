################################################################################
# Repository
################################################################################

variable "name" {
  description = "Repository name, e.g. shop/backend."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) >= 2 && length(var.name) <= 256
    error_message = "name must be 2-256 lowercase letters, digits and . _ - separators, optionally namespaced with /."
  }
}

variable "image_tag_mutability" {
  description = "IMMUTABLE (recommended: a commit-SHA tag names one image forever) or MUTABLE."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["IMMUTABLE", "MUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be IMMUTABLE or MUTABLE."
  }
}

variable "scan_on_push" {
  description = "Scan each pushed image for known vulnerabilities."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key for image encryption; null uses AES256 with an AWS-owned key."
  type        = string
  default     = null
}

variable "force_delete" {
  description = "Allow destroying the repository while it still holds images."
  type        = bool
  default     = false
}

################################################################################
# Lifecycle Policy
################################################################################

variable "create_lifecycle_policy" {
  description = "Attach the lifecycle policy that expires old and untagged images."
  type        = bool
  default     = true
}

variable "untagged_image_expiry_days" {
  description = "Days after which untagged images are expired."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_image_expiry_days >= 1
    error_message = "untagged_image_expiry_days must be at least 1."
  }
}

variable "max_image_count" {
  description = "Images kept in total; older ones are expired. Keep it above the number of revisions you may roll back to."
  type        = number
  default     = 50

  validation {
    condition     = var.max_image_count >= 1
    error_message = "max_image_count must be at least 1."
  }
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
