# The roles that jobs run as. A checksum job reads an object and writes its checksum tags; a validation
# job only reads the objects it validates. Neither may list, delete or write objects.

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
  job_object_actions = {
    checksum   = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:PutObjectTagging"]
    validation = ["s3:GetObject", "s3:GetObjectVersion"]
  }
}

data "aws_iam_policy_document" "job" {
  for_each = var.compute_environments

  statement {
    sid       = "ObjectsOfTheBucket"
    actions   = lookup(local.job_object_actions, each.key, ["s3:GetObject"])
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
  for_each = var.compute_environments

  name   = "job-permissions"
  role   = aws_iam_role.job[each.key].id
  policy = data.aws_iam_policy_document.job[each.key].json
}
