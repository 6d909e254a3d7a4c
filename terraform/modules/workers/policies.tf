# Each function's own permissions, scoped to the resources it touches. Batch's Describe calls and
# X-Ray have no resource-level permissions, so those statements alone use "*". Only what some code path
# calls is granted (tests/iam records each call against these policies; no request names a VersionId).
# batch:DescribeJobs returns each job's environment, its callback token included: only these service
# functions hold it (a token is good for one record until it expires; see docs/operations.md).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# Batch's describe calls have no resource-level permissions, so the statements that grant them name "*":
# the reapers ask about jobs (DescribeJobs), the functions that submit look up their job definition
# (DescribeJobDefinitions) before registering one.
locals {
  batch_arn_prefix    = "arn:${data.aws_partition.current.partition}:batch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  job_definition_arns = "${local.batch_arn_prefix}:job-definition/${var.job_definition_name_prefix}*"
  sqs_consume_actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
  secret_read_actions = ["secretsmanager:GetSecretValue"]
  kms_key_arns        = var.kms_key_arn == null ? [] : [var.kms_key_arn]
  bucket_objects_arn  = "${var.bucket_arn}/*"
  # Batch's Describe* actions have no resource-level permissions: every statement granting them says "*".
  batch_describe_jobs        = ["batch:DescribeJobs"]
  batch_describe_definitions = ["batch:DescribeJobDefinitions"]
  # The stages pass the registry module's validator repositories; without a list, every repository of
  # this account and region. DescribeImages reads tags and digests, never image content.
  validator_repository_arns = coalesce(var.validator_repository_arns, ["arn:${data.aws_partition.current.partition}:ecr:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:repository/*"])
}

# Shared by every function: the secrets it may read (database password, keys) and the key that seals them.
data "aws_iam_policy_document" "common" {
  statement {
    sid       = "ReadServiceSecrets"
    actions   = local.secret_read_actions
    resources = var.secret_arns
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseServiceKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = local.kms_key_arns
    }
  }
}

data "aws_iam_policy_document" "checksum" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  # SendMessage: a version replaced while it was being tagged is queued again (upload_checksum.worker).
  statement {
    sid       = "ConsumeChecksumQueue"
    actions   = concat(local.sqs_consume_actions, ["sqs:SendMessage"])
    resources = [var.queue_arns["checksum"]]
  }

  statement {
    sid       = "ReadAndTagObjects"
    actions   = ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"]
    resources = [local.bucket_objects_arn]
  }

  # Deletion wins: an object that reaches an area whose deletion has begun is deleted by the worker.
  statement {
    sid       = "DeleteObjectsOfDeletedAreas"
    actions   = ["s3:DeleteObject"]
    resources = [local.bucket_objects_arn]
  }

  statement {
    sid       = "SubmitChecksumJobs"
    actions   = ["batch:SubmitJob"]
    resources = [var.checksum_job_queue_arn, local.job_definition_arns]
  }

  statement {
    sid       = "RegisterChecksumJobDefinition"
    actions   = ["batch:RegisterJobDefinition", "batch:TagResource"]
    resources = [local.job_definition_arns]
  }

  statement {
    sid       = "FindJobDefinitions" # "*": see batch_describe_definitions
    actions   = local.batch_describe_definitions
    resources = ["*"]
  }

  statement {
    sid       = "PassChecksumJobRole"
    actions   = ["iam:PassRole"]
    resources = [var.checksum_job_role_arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "deletion" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  statement {
    sid       = "ConsumeDeletionQueue"
    actions   = concat(local.sqs_consume_actions, ["sqs:SendMessage"])
    resources = [var.queue_arns["deletion"]]
  }

  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
  }

  statement {
    sid       = "DeleteObjects"
    actions   = ["s3:DeleteObject"]
    resources = [local.bucket_objects_arn]
  }
}

data "aws_iam_policy_document" "scheduler" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  statement {
    sid       = "ConsumeValidationQueue"
    actions   = local.sqs_consume_actions
    resources = [var.queue_arns["validation"]]
  }

  statement {
    sid       = "SubmitValidationJobs"
    actions   = ["batch:SubmitJob"]
    resources = [var.validation_job_queue_arn, local.job_definition_arns]
  }

  # A validator image given by tag is pinned to the digest ECR names for it, and the job runs that.
  statement {
    sid       = "ResolveValidatorImages"
    actions   = ["ecr:DescribeImages"]
    resources = local.validator_repository_arns
  }

  statement {
    sid       = "RegisterValidatorJobDefinitions"
    actions   = ["batch:RegisterJobDefinition", "batch:TagResource"]
    resources = [local.job_definition_arns]
  }

  statement {
    sid       = "FindJobDefinitions" # "*": see batch_describe_definitions
    actions   = local.batch_describe_definitions
    resources = ["*"]
  }

  statement {
    sid       = "PassValidationJobRole"
    actions   = ["iam:PassRole"]
    resources = [var.validation_job_role_arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "checksum_reaper" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  statement {
    sid       = "RequeueChecksums"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arns["checksum"]]
  }

  statement {
    sid       = "DescribeJobs" # "*": see batch_describe_jobs
    actions   = local.batch_describe_jobs
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "dispatcher" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  # The notification JWT's key: the one function that sends notifications reads it, no other.
  dynamic "statement" {
    for_each = length(var.dispatcher_secret_arns) == 0 ? [] : [1]
    content {
      sid       = "ReadNotificationSecrets"
      actions   = local.secret_read_actions
      resources = var.dispatcher_secret_arns
    }
  }
}

data "aws_iam_policy_document" "validation_sweep" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  statement {
    sid       = "DescribeJobs" # "*": see batch_describe_jobs
    actions   = local.batch_describe_jobs
    resources = ["*"]
  }

  # The same sweep expires upload sessions past their expiry: their multipart uploads are aborted.
  statement {
    sid       = "AbortExpiredUploadSessions"
    actions   = ["s3:AbortMultipartUpload"]
    resources = [local.bucket_objects_arn]
  }
}

# Lists the bucket and re-reads objects (verification), queues what it finds: nothing else.
data "aws_iam_policy_document" "reconcile" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
  }

  statement {
    sid       = "ReadObjects"
    actions   = ["s3:GetObject"]
    resources = [local.bucket_objects_arn]
  }

  statement {
    sid       = "QueueChecksums"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arns["checksum"]]
  }
}

# Reads and updates areas in the database, queues the deletion of expired ones: nothing else (the
# deletion function deletes their objects).
data "aws_iam_policy_document" "area_expiry" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  statement {
    sid       = "QueueDeletions"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arns["deletion"]]
  }
}
