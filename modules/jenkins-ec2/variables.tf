variable "name" {
  description = "Name of the instance and prefix of its security group and role."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,55}$", var.name))
    error_message = "name must be 1-55 characters valid in IAM role names."
  }
}

################################################################################
# Security Group
################################################################################

variable "vpc_id" {
  description = "ID of the VPC (vpc module output vpc_id)."
  type        = string
}

variable "jenkins_port" {
  description = "Port the Jenkins UI listens on."
  type        = number
  default     = 8080
}

variable "allowed_ui_cidr_blocks" {
  description = "IPv4 CIDRs allowed to reach the Jenkins UI. Empty: nobody (use SSM port forwarding)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_ui_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "Every allowed_ui_cidr_blocks entry must be a valid IPv4 CIDR."
  }
}

variable "allowed_ssh_cidr_blocks" {
  description = "IPv4 CIDRs allowed to SSH in. Empty by default: use SSM Session Manager."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_ssh_cidr_blocks : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "allowed_ssh_cidr_blocks must be valid IPv4 CIDRs, and never 0.0.0.0/0."
  }
}

variable "additional_security_group_ids" {
  description = "Extra security groups for the instance."
  type        = list(string)
  default     = []
}

################################################################################
# IAM Role
################################################################################

variable "ci_role_arn" {
  description = "Role the CI pipeline assumes (iam output ci_role_arn): it pushes images and writes the shared cache. The instance role itself has no ECR access."
  type        = string
  default     = null
}

variable "deploy_role_arn" {
  description = "Role the CD pipeline assumes (iam output deploy_role_arn); null leaves the instance CI-only."
  type        = string
  default     = null
}

variable "enable_ssm" {
  description = "Attach AmazonSSMManagedInstanceCore so Session Manager replaces SSH."
  type        = bool
  default     = true
}

################################################################################
# Instance
################################################################################

variable "subnet_id" {
  description = "Subnet for the controller: a private one (subnets output private_subnet_ids) with a NAT route; a public one only together with associate_public_ip_address."
  type        = string
}

variable "ami_id" {
  description = "AMI to launch; null uses the latest Amazon Linux 2023 (x86_64) at creation time."
  type        = string
  default     = null
}

variable "instance_type" {
  description = "EC2 instance type; Docker builds want at least 4 GiB of memory."
  type        = string
  default     = "t3.medium"
}

variable "associate_public_ip_address" {
  description = "Give the instance a public IP (only in a public subnet, e.g. for webhooks without a proxy). Off: reach it through SSM or allowed_ui_cidr_blocks."
  type        = bool
  default     = false
}

variable "detailed_monitoring" {
  description = "One-minute CloudWatch metrics for the instance (a small extra cost)."
  type        = bool
  default     = true
}

variable "key_name" {
  description = "EC2 key pair for SSH; null when using SSM only."
  type        = string
  default     = null
}

variable "root_volume_size" {
  description = "Root volume size in GiB (JENKINS_HOME and the Docker layer cache live here)."
  type        = number
  default     = 50

  validation {
    condition     = var.root_volume_size >= 20
    error_message = "root_volume_size must be at least 20 GiB."
  }
}

variable "user_data" {
  description = "Replace the bundled bootstrap script (Jenkins, Docker, Terraform on Amazon Linux 2023)."
  type        = string
  default     = null
}

################################################################################
# Common
################################################################################

variable "tags" {
  description = "Tags merged into every taggable resource of this module."
  type        = map(string)
  default     = {}
}
