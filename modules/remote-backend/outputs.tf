################################################################################
# State Bucket
################################################################################

output "bucket_id" {
  description = "Name of the state bucket."
  value       = try(aws_s3_bucket.this.id, null)
}

output "bucket_arn" {
  description = "ARN of the state bucket (iam input state_bucket_arn)."
  value       = try(aws_s3_bucket.this.arn, null)
}

output "bucket_region" {
  description = "Region of the state bucket."
  value       = try(aws_s3_bucket.this.region, null)
}

################################################################################
# Lock Table
################################################################################

output "dynamodb_table_name" {
  description = "Name of the lock table, or null when not created."
  value       = try(aws_dynamodb_table.this[0].name, null)
}

output "dynamodb_table_arn" {
  description = "ARN of the lock table (iam input lock_table_arn), or null when not created."
  value       = try(aws_dynamodb_table.this[0].arn, null)
}

output "backend_config" {
  description = "Values for `terraform init -backend-config=...` (add key per environment)."
  value = {
    bucket         = try(aws_s3_bucket.this.id, null)
    region         = try(aws_s3_bucket.this.region, null)
    encrypt        = true
    kms_key_id     = var.kms_key_arn
    dynamodb_table = try(aws_dynamodb_table.this[0].name, null)
    use_lockfile   = true
  }
}
