################################################################################
# Log Bucket
################################################################################

# Built from the inputs, so they are known at plan time: the modules that take them
# decide by them whether to create their log resources (a count must be known at plan).
# depends_on still orders those resources after the bucket and its policy, without which
# ELB and log delivery refuse the bucket.

output "bucket_id" {
  description = "Name of the log bucket (alb-public/alb-internal input access_logs_bucket, remote-backend input access_logs_bucket)."
  value       = var.bucket_name

  depends_on = [aws_s3_bucket_policy.this, aws_s3_bucket_ownership_controls.this, aws_s3_bucket_server_side_encryption_configuration.this]
}

output "bucket_arn" {
  description = "ARN of the log bucket (vpc input flow_logs_bucket_arn)."
  value       = "arn:${local.partition}:s3:::${var.bucket_name}"

  depends_on = [aws_s3_bucket_policy.this, aws_s3_bucket_ownership_controls.this, aws_s3_bucket_server_side_encryption_configuration.this]
}
