# Watching the stage: the monitoring module's topic and alarms over every queue, function, the API, the
# database and the Batch job queues; and the daily health report, a function (the api zip's
# upload_api.lambda_handlers.health_report_handler) that posts to the webhook whose URL an operator puts
# into the `health-webhook-url` secret. Like the other secrets it is created empty: until it holds a URL
# the function fails, and its Errors alarm says so.

module "monitoring" {
  source = "../monitoring"

  name                    = var.name
  kms_key_arn             = aws_kms_key.this.arn
  alarm_subscriptions     = var.alarm_subscriptions
  queue_names             = { for name, url in module.storage.sqs_queue_urls : name => regex("[^/]+$", url) }
  dead_letter_queue_names = { for name, url in module.storage.sqs_dead_letter_queue_urls : name => regex("[^/]+$", url) }
  lambda_function_names   = local.function_names
  api_id                  = module.api.apigatewayv2_api_id
  batch_job_queue_arns    = module.batch.batch_job_queue_arns
  db_instance_identifier  = regex("[^:]+$", module.database.db_instance_arn)
  tags                    = var.tags
}

resource "aws_secretsmanager_secret" "health_webhook" {
  #checkov:skip=CKV2_AWS_57:an operator-held webhook URL with no rotation Lambda; replaced by hand when the channel's webhook changes
  name                    = "${var.name}/health-webhook-url"
  description             = "Slack-compatible incoming webhook URL that receives the daily health report"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

locals {
  # Every function of the stage (the `lambda_function_names` output).
  function_names = merge(
    { api = module.api.lambda_function_name, migrate = module.migration.lambda_function_name, health_report = module.health_report.lambda_function_name },
    module.workers.lambda_function_names,
  )
  health_report_secret_arns = compact([
    aws_secretsmanager_secret.this["secret-key"].arn,
    aws_secretsmanager_secret.health_webhook.arn,
    var.database_iam_auth ? "" : local.database_secret_arn,
  ])
}

data "aws_iam_policy_document" "health_report" {
  statement {
    sid       = "ReadItsSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.health_report_secret_arns
  }

  statement {
    sid       = "UseServiceKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }

  # The dead-letter depths; GetQueueAttributes reads counts and settings, never a message.
  statement {
    sid       = "ReadDeadLetterDepths"
    actions   = ["sqs:GetQueueAttributes"]
    resources = values(module.storage.sqs_dead_letter_queue_arns)
  }

  dynamic "statement" {
    for_each = var.database_iam_auth ? [1] : []
    content {
      sid     = "ConnectAsWorkerRole"
      actions = ["rds-db:connect"]
      resources = [
        "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${module.database.db_instance_resource_id}/${local.database_users.worker}",
      ]
    }
  }
}

module "health_report" {
  source = "../lambda_function"

  function_name    = "${var.name}-health-report"
  description      = "Posts the daily health report (stuck work, dead letters, FAILED notifications, overdue areas)"
  filename         = var.api_zip_path
  s3_bucket        = var.artifacts_bucket
  s3_key           = var.api_zip_s3_key
  source_code_hash = var.api_zip_sha256
  handler          = "upload_api.lambda_handlers.health_report_handler"
  timeout          = 120
  memory_size      = 512
  # Only what the report reads: no Api-Keys, no ingest secret, no Batch or storage access.
  environment_variables = merge(
    {
      UPLOAD_STORAGE_URL                   = "s3://${module.storage.s3_bucket_id}"
      UPLOAD_QUEUE_URL                     = module.storage.sqs_queue_url_prefix
      UPLOAD_BATCH_NAME_PREFIX             = var.name
      UPLOAD_DATABASE_URL                  = local.database_url
      UPLOAD_SECRET_KEY_SECRET_ARN         = aws_secretsmanager_secret.this["secret-key"].arn
      UPLOAD_HEALTH_WEBHOOK_URL_SECRET_ARN = aws_secretsmanager_secret.health_webhook.arn
    },
    local.database_environment,
    local.database_user_environment.worker,
  )
  attach_policy                  = true
  policy_json                    = data.aws_iam_policy_document.health_report.json
  vpc_config                     = local.vpc_config
  reserved_concurrent_executions = 1
  log_retention_days             = var.log_retention_days
  kms_key_arn                    = aws_kms_key.this.arn
  tags                           = var.tags

  # It reads the tables of the schema the migration makes (see main.tf's api and workers).
  depends_on = [aws_lambda_invocation.migrate]
}

resource "aws_cloudwatch_event_rule" "health_report" {
  name                = "${var.name}-health-report"
  description         = "The daily health report of ${var.name}"
  schedule_expression = var.health_report_schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "health_report" {
  rule = aws_cloudwatch_event_rule.health_report.name
  arn  = module.health_report.lambda_function_arn
}

resource "aws_lambda_permission" "health_report" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.health_report.lambda_function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.health_report.arn
}
