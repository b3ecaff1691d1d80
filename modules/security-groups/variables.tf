variable "name" {
  description = "Prefix of the security group names."
  type        = string

  validation {
    condition     = length(var.name) > 0 && length(var.name) <= 200
    error_message = "name must be 1-200 characters."
  }
}

variable "vpc_id" {
  description = "ID of the VPC (vpc module output vpc_id)."
  type        = string
}

################################################################################
# Public ALB
################################################################################

variable "public_alb_ingress_cidr_blocks" {
  description = "IPv4 CIDRs allowed to reach the public ALB."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.public_alb_ingress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "Every public_alb_ingress_cidr_blocks entry must be a valid IPv4 CIDR."
  }
}

variable "public_alb_ports" {
  description = "Listener ports opened on the public ALB."
  type        = list(number)
  default     = [80, 443]

  validation {
    condition     = alltrue([for p in var.public_alb_ports : p >= 1 && p <= 65535])
    error_message = "Ports must be between 1 and 65535."
  }
}

################################################################################
# Frontend Tasks
################################################################################

variable "frontend_port" {
  description = "Container port of the frontend tasks (the public ALB target group port)."
  type        = number
  default     = 8080

  validation {
    condition     = var.frontend_port >= 1 && var.frontend_port <= 65535
    error_message = "frontend_port must be between 1 and 65535."
  }
}

variable "task_egress_cidr_blocks" {
  description = "Where ECS tasks may connect on 443 (ECR, S3 layers, CloudWatch Logs via NAT). Narrow it to VPC endpoint subnets if you use endpoints instead of NAT."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for c in var.task_egress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "Every task_egress_cidr_blocks entry must be a valid IPv4 CIDR."
  }
}

################################################################################
# Internal ALB
################################################################################

variable "internal_alb_port" {
  description = "Listener port of the internal ALB (the port the frontend calls)."
  type        = number
  default     = 80

  validation {
    condition     = var.internal_alb_port >= 1 && var.internal_alb_port <= 65535
    error_message = "internal_alb_port must be between 1 and 65535."
  }
}

################################################################################
# Backend Tasks
################################################################################

variable "backend_port" {
  description = "Container port of the backend tasks (the internal ALB target group port)."
  type        = number
  default     = 8080

  validation {
    condition     = var.backend_port >= 1 && var.backend_port <= 65535
    error_message = "backend_port must be between 1 and 65535."
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
