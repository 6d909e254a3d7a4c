# The upload bucket and the service's queues. Every object created in the bucket is announced to the
# checksum queue; every queue has a dead-letter queue that receives a message after
# `max_receive_count` failed deliveries.

locals {
  object_created_events = [
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
  ]
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:an upload area is a transient staging place; accepted files are copied onward by Ingest, so a replica adds cost, not safety
  #checkov:skip=CKV_AWS_21:objects are identified by (key, ETag) and deleted areas must really be gone; versions would keep deleted submissions
  #checkov:skip=CKV_AWS_18:the service records every upload itself (file and checksum rows); request-level audit is CloudTrail data events, an account-level choice
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

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
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }
}

# The upload page PUTs session parts straight to presigned URLs from the API's origin; it reads each
# part's ETag. Nothing else crosses origins: no GET, no other header exposed.
resource "aws_s3_bucket_cors_configuration" "this" {
  count  = length(var.cors_allowed_origins) > 0 ? 1 : 0
  bucket = aws_s3_bucket.this.id

  cors_rule {
    allowed_methods = ["PUT"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["content-type"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

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
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_sqs_queue" "dlq" {
  for_each = var.queues

  name                      = "${var.queue_name_prefix}-${each.key}-dlq"
  message_retention_seconds = each.value.dead_letter_retention_seconds
  kms_master_key_id         = var.kms_key_arn
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  for_each = var.queues

  name                       = "${var.queue_name_prefix}-${each.key}"
  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  message_retention_seconds  = each.value.message_retention_seconds
  kms_master_key_id          = var.kms_key_arn
  sqs_managed_sse_enabled    = var.kms_key_arn == null ? true : null

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })

  tags = var.tags
}

# A dead-letter queue accepts messages from its own queue only.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = var.restrict_dead_letter_sources ? var.queues : {}

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "checksum_queue" {
  statement {
    sid       = "UploadBucketObjectCreated"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this["checksum"].arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.this.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "checksum" {
  queue_url = aws_sqs_queue.this["checksum"].id
  policy    = data.aws_iam_policy_document.checksum_queue.json
}

resource "aws_s3_bucket_notification" "this" {
  bucket = aws_s3_bucket.this.id

  queue {
    id        = "object-created-to-checksum"
    queue_arn = aws_sqs_queue.this["checksum"].arn
    events    = local.object_created_events
  }

  # S3 tests the destination when the notification is saved: the queue must already accept it.
  depends_on = [aws_sqs_queue_policy.checksum]
}
