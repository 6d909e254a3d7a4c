# What a stage needs before its first plan: the ECR repositories of the Batch images (the checksum job,
# the validator base and each built-in validator) and the artifacts bucket that holds the Lambda zips
# by content hash. The pipeline pushes images and uploads zips here; the stage's functions and jobs
# reference them. `python -m deploy <stage> bootstrap` applies this module alone on a stage's first
# deploy (docs/deployment.md).

locals {
  # ECR lifecycle rules: the lowest priority is evaluated first; an image is matched by one rule only.
  lifecycle_policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged images (layers of rebuilt or superseded pushes) expire after ${var.untagged_image_expiry_days} days"
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
        description  = "Keep the ${var.tagged_images_to_keep} most recent tagged images (releases that can be rolled back to)"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = ["*"]
          countType      = "imageCountMoreThan"
          countNumber    = var.tagged_images_to_keep
        }
        action = { type = "expire" }
      },
    ]
  })
}

resource "aws_ecr_repository" "this" {
  for_each = toset(var.images)

  name = "${var.name}/${each.key}"
  # A tag names one build forever: a job definition that names `<version>-<commit>` always runs it.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_destroy

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy     = local.lifecycle_policy
}

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_144:the zips are rebuilt deterministically from the tagged commit (`make dist`), so a replica in another region adds cost, not safety
  #checkov:skip=CKV_AWS_18:only the pipeline writes here and Lambda reads at deploy time; request-level audit is CloudTrail data events, an account-level choice
  #checkov:skip=CKV2_AWS_62:nothing reacts to a new artifact: the deploy command uploads a zip and then plans with its key
  bucket        = var.artifacts_bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      # With no key given: SSE-KMS with the account's AWS-managed key (aws/s3).
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  # Keys are content hashes, so a key is written once; old zips stay for rollbacks until this rule.
  rule {
    id     = "expire-old-zips"
    status = "Enabled"

    filter {}

    expiration {
      days = var.artifact_expiry_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.artifact_expiry_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}

data "aws_iam_policy_document" "artifacts" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]

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

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.artifacts.json

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}
