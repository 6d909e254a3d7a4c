# The API function's permissions and the submitter role whose credentials it hands out.

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "ReadAndStoreObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${module.storage.s3_bucket_arn}/*"]
  }

  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.s3_bucket_arn]
  }

  statement {
    sid       = "SendToServiceQueues"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = values(module.storage.sqs_queue_arns)
  }

  statement {
    sid       = "IssueAreaCredentials"
    actions   = ["sts:AssumeRole", "sts:TagSession"]
    resources = [aws_iam_role.submitter.arn]
  }

  statement {
    sid       = "ReadServiceSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = values(local.secret_arns)
  }

  statement {
    sid       = "UseServiceKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]
  }
}

# Only the API function may assume the submitter role; it always narrows the session to one area.
data "aws_iam_policy_document" "submitter_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "AWS"
      identifiers = [module.api.lambda_role_arn]
    }
  }
}

resource "aws_iam_role" "submitter" {
  name_prefix          = "${substr(var.name, 0, 24)}-submitter-"
  description          = "Assumed by the API, narrowed to one area, for submitters' uploads"
  assume_role_policy   = data.aws_iam_policy_document.submitter_assume.json
  max_session_duration = 3600

  tags = var.tags
}

# Put objects and list: nothing else. No tagging, so a submitter can never forge the service's checksum tags.
data "aws_iam_policy_document" "submitter" {
  statement {
    sid       = "PutObjects"
    actions   = ["s3:PutObject"]
    resources = ["${module.storage.s3_bucket_arn}/*"]
  }

  statement {
    sid       = "ListAreas"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.s3_bucket_arn]
  }

  statement {
    sid       = "EncryptUploadsThroughS3"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "submitter" {
  name   = "put-and-list-objects"
  role   = aws_iam_role.submitter.id
  policy = data.aws_iam_policy_document.submitter.json
}
