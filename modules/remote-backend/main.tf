################################################################################
# State Bucket
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logging is the access_logs_bucket input (aws_s3_bucket_logging.this below), set in prod; the bootstrap apply runs before any log bucket exists.
  #checkov:skip=CKV_AWS_144:State is versioned and recoverable in-region; cross-region replication is an account-wide DR decision, not this module's.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events from the state bucket; Terraform reads it directly.
  bucket = var.bucket_name

  # Losing the state means Terraform forgets every resource it manages.
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = var.bucket_name })
}

# Who read or wrote the state, and from where (S3 server access logs).
resource "aws_s3_bucket_logging" "this" {
  count = var.access_logs_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_logs_bucket
  target_prefix = var.access_logs_prefix
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Every state write becomes a new version: a corrupted or wrongly applied state can
# be restored from the previous one.
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

# State files hold resource attributes in plain text, secrets included.
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days           = var.noncurrent_version_expiration_days
      newer_noncurrent_versions = var.noncurrent_versions_to_keep
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Lifecycle rules on a bucket without versioning cannot target noncurrent versions.
  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "this" {
  # Refuse plain-HTTP access to the state.
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  # Putting a policy before the public access block exists races with it.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

################################################################################
# Lock Table
################################################################################

# The table layout Terraform's S3 backend expects: a string hash key named exactly
# "LockID". Terraform writes "<bucket>/<key>" items holding the lock Info JSON, and
# "<bucket>/<key>-md5" items holding the state checksum.
resource "aws_dynamodb_table" "this" {
  count = var.create_dynamodb_table ? 1 : 0

  name         = var.dynamodb_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  deletion_protection_enabled = var.dynamodb_deletion_protection

  tags = merge(var.tags, { Name = var.dynamodb_table_name })
}
