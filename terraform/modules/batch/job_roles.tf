# The roles that jobs run as. A checksum job reads an object and writes its checksum tags. A validation
# job runs a validator the service does not trust, so its role may do nothing at all: its harness reads
# the validation's objects with credentials the API issues for exactly those objects (the staging role
# of the upload_service module). Neither may list, delete or write objects.

data "aws_iam_policy_document" "job_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "job" {
  for_each = var.compute_environments

  name_prefix        = "${substr(var.name, 0, 24)}-${substr(each.key, 0, 10)}-job-"
  assume_role_policy = data.aws_iam_policy_document.job_assume.json

  tags = var.tags
}

locals {
  # Kinds of job whose role has permissions; the others (validation) get a role with none.
  job_object_actions = {
    checksum = ["s3:GetObject", "s3:GetObjectTagging", "s3:PutObjectTagging"]
  }
  jobs_with_permissions = { for kind, actions in local.job_object_actions : kind => actions if contains(keys(var.compute_environments), kind) }
}

data "aws_iam_policy_document" "job" {
  for_each = local.jobs_with_permissions

  statement {
    sid       = "ObjectsOfTheBucket"
    actions   = each.value
    resources = ["${var.bucket_arn}/*"]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptObjects"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  for_each = local.jobs_with_permissions

  name   = "job-permissions"
  role   = aws_iam_role.job[each.key].id
  policy = data.aws_iam_policy_document.job[each.key].json
}
