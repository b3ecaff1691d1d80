################################################################################
# Repository
################################################################################

resource "aws_ecr_repository" "this" {
  name = var.name

  # Immutable tags: a commit-SHA tag, once pushed, always names the same image, and a
  # second push of the same tag fails loudly instead of silently replacing it.
  image_tag_mutability = var.image_tag_mutability

  image_scanning_configuration {
    scan_on_push = var.scan_on_push
  }

  encryption_configuration {
    encryption_type = var.kms_key_arn == null ? "AES256" : "KMS"
    kms_key         = var.kms_key_arn
  }

  # Deleting a repository that still holds images would break every task definition
  # that pins one of them.
  force_delete = var.force_delete

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Lifecycle Policy
################################################################################

# Rule order matters: ECR evaluates the lowest rulePriority first, and a rule that
# matches "any" tag status must have the highest priority number.
resource "aws_ecr_lifecycle_policy" "this" {
  count = var.create_lifecycle_policy ? 1 : 0

  repository = aws_ecr_repository.this.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images (failed or superseded pushes) after ${var.untagged_image_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_image_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        # Keep enough history for rollbacks: a task definition pinning an expired
        # digest can no longer start tasks.
        description = "Keep the ${var.max_image_count} most recent images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.max_image_count
        }
        action = { type = "expire" }
      },
    ]
  })
}
