################################################################################
# Log Bucket
################################################################################

output "bucket_id" {
  description = "Name of the log bucket (alb-public/alb-internal input access_logs_bucket, remote-backend input access_logs_bucket)."
  value       = try(aws_s3_bucket.this.id, null)
}

output "bucket_arn" {
  description = "ARN of the log bucket (vpc input flow_logs_bucket_arn)."
  value       = try(aws_s3_bucket.this.arn, null)
}
