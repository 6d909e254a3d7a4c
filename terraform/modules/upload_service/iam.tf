# The API function's permissions, and the roles whose narrowed credentials it hands out: the submitter
# role (to put files into one area) and the staging role (to read one validation's files).

data "aws_iam_policy_document" "api" {
  # PutObjectTagging: a PUT through the API writes the file's checksum tags (hca-dss-*) after its bytes;
  # without it every such upload stores the bytes and answers 503 (tests/iam/test_api.py).
  # AbortMultipartUpload: a multipart PUT or copy that fails is aborted (upload_common.storage.s3), and
  # so is an upload session the client aborts. Upload sessions: Create/UploadPart (presigned with this
  # role)/Complete are s3:PutObject; ListParts is s3:ListMultipartUploadParts (tests/iam/test_api.py).
  # No GetObjectVersion: the service never names a version (VersionId) in a request.
  statement {
    sid = "ReadAndStoreObjects"
    actions = [
      "s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${module.storage.s3_bucket_arn}/*"]
  }

  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.s3_bucket_arn]
  }

  # The queues' URLs come from UPLOAD_QUEUE_URL: the API never looks one up (GetQueueUrl) nor reads attributes.
  statement {
    sid       = "SendToServiceQueues"
    actions   = ["sqs:SendMessage"]
    resources = values(module.storage.sqs_queue_arns)
  }

  statement {
    sid       = "IssueAreaCredentials"
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.submitter.arn]
  }

  statement {
    sid       = "IssueStagingCredentials"
    actions   = ["sts:AssumeRole"]
    resources = [aws_iam_role.staging.arn]
  }

  statement {
    sid       = "ReadServiceSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
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
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [module.api.lambda_role_arn]
    }
  }
}

resource "aws_iam_role" "submitter" {
  name_prefix        = "${substr(var.name, 0, 24)}-submitter-"
  description        = "Assumed by the API, narrowed to one area, for submitters' uploads"
  assume_role_policy = data.aws_iam_policy_document.submitter_assume.json
  # IAM's floor is one hour; sessions are as long as UPLOAD_CREDENTIALS_DURATION_SECONDS (same variable).
  max_session_duration = max(3600, var.credentials_duration_seconds)

  tags = var.tags
}

# Put objects, list, and resume or drop an interrupted multipart upload: nothing else. No tagging, so a
# submitter can never forge the service's checksum tags. The API's session policy narrows each to one area
# (and keeps the area's .dcp-upload/ prefix, the service's own, out of reach).
data "aws_iam_policy_document" "submitter" {
  statement {
    sid       = "PutObjects"
    actions   = ["s3:PutObject"]
    resources = ["${module.storage.s3_bucket_arn}/*"]
  }

  # `dcp-upload upload` resumes the upload it recorded: the parts it already holds (ListParts), or aborts it
  # (the file changed). No s3:ListBucketMultipartUploads: AWS has no s3:prefix key for it, so it would list
  # every area's in-progress uploads (their file names).
  statement {
    sid       = "ResumeUploads"
    actions   = ["s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
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

# A validation job's harness reads the validation's files with credentials of this role, which the API
# narrows (session policy) to exactly those objects, for the job's token. The job's own role has no S3
# access, so the untrusted validator next to the harness can read nothing through it.
data "aws_iam_policy_document" "staging_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [module.api.lambda_role_arn]
    }
  }
}

resource "aws_iam_role" "staging" {
  name_prefix        = "${substr(var.name, 0, 24)}-staging-"
  description        = "Assumed by the API, narrowed to one validation's objects, for its job to stage them"
  assume_role_policy = data.aws_iam_policy_document.staging_assume.json
  # IAM's floor is one hour; sessions are as long as UPLOAD_CREDENTIALS_DURATION_SECONDS (same variable).
  max_session_duration = max(3600, var.credentials_duration_seconds)

  tags = var.tags
}

# Read objects: nothing else (no listing, no tags, no writes).
data "aws_iam_policy_document" "staging" {
  statement {
    sid       = "ReadObjects"
    actions   = ["s3:GetObject"]
    resources = ["${module.storage.s3_bucket_arn}/*"]
  }

  statement {
    sid       = "DecryptObjectsThroughS3"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "staging" {
  name   = "read-objects"
  role   = aws_iam_role.staging.id
  policy = data.aws_iam_policy_document.staging.json
}
