# Schema migrations inside the apply: a function in the VPC (the api zip's upload_common.migration_handler)
# upgrades the database to head as the schema's owner (the master user, its secret re-read after a
# rotation) and grants the service roles. The invocation runs after this function has the new code and
# before the API and the workers are updated (their modules depend on it), so new code never meets an old
# schema; the previous release keeps running on the migrated one (migrations only expand, see
# docs/deployment.md). A failed migration fails the apply before any service function changes.

locals {
  # The migrations ship in the api zip: a new zip (any change of code, migrations included) runs the
  # migration again. It is idempotent, so a zip without new migrations costs one short no-op run.
  migration_code_hash = var.api_zip_sha256 != null ? var.api_zip_sha256 : filebase64sha256(var.api_zip_path)
}

data "aws_iam_policy_document" "migration" {
  statement {
    sid       = "ReadMasterSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.database_secret_arn]
  }
}

module "migration" {
  source = "../lambda_function"

  function_name                  = "${var.name}-migrate"
  description                    = "Upgrades the database schema to head and grants the service roles (invoked by the apply)"
  filename                       = var.api_zip_path
  s3_bucket                      = var.artifacts_bucket
  s3_key                         = var.api_zip_s3_key
  source_code_hash               = var.api_zip_sha256
  handler                        = "upload_common.migration_handler.handler"
  timeout                        = 900
  memory_size                    = 512
  reserved_concurrent_executions = 1 # one migration at a time (the advisory lock also serialises them)
  environment_variables = {
    UPLOAD_DATABASE_URL        = local.database_url
    UPLOAD_DATABASE_SECRET_ARN = local.database_secret_arn
  }
  attach_policy      = true
  policy_json        = data.aws_iam_policy_document.migration.json
  vpc_config         = local.vpc_config
  log_retention_days = var.log_retention_days
  kms_key_arn        = aws_kms_key.this.arn
  tags               = var.tags
}

# Lambda code cannot run in the emulator: `run_migrations = false` there (terraform/envs/local).
resource "aws_lambda_invocation" "migrate" {
  count = var.run_migrations ? 1 : 0

  function_name = module.migration.lambda_function_name
  input         = jsonencode({}) # the handler always upgrades to head
  triggers      = { code = local.migration_code_hash }

  depends_on = [module.migration, module.database]
}
