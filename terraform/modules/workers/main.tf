# The service's background functions. Three consume a queue through an event-source mapping that reports
# partial batch failures (only the failed messages return to the queue); five run on a schedule.
#
#   checksum          checksum queue    upload_checksum.lambda_handlers.handler          checksum.zip
#   deletion          deletion queue    upload_api.lambda_handlers.deletion_handler      api.zip
#   scheduler         validation queue  upload_api.lambda_handlers.scheduler_handler     api.zip
#   checksum_reaper   schedule          upload_checksum.lambda_handlers.reaper_handler   checksum.zip
#   dispatcher        schedule          upload_api.lambda_handlers.dispatcher_handler    api.zip
#   validation_sweep  schedule          upload_api.lambda_handlers.validation_sweep_handler api.zip
#   reconcile         schedule          upload_checksum.lambda_handlers.reconcile_handler checksum.zip
#   area_expiry       schedule          upload_api.lambda_handlers.area_expiry_handler   api.zip

locals {
  definitions = {
    checksum = {
      description = "Checksums uploaded objects (inline, or as a Batch job above the threshold)"
      handler     = "upload_checksum.lambda_handlers.handler"
      artifact    = "checksum"
      queue       = "checksum"
    }
    deletion = {
      description = "Deletes the objects of areas queued for deletion"
      handler     = "upload_api.lambda_handlers.deletion_handler"
      artifact    = "api"
      queue       = "deletion"
    }
    scheduler = {
      description = "Submits validation jobs to Batch"
      handler     = "upload_api.lambda_handlers.scheduler_handler"
      artifact    = "api"
      queue       = "validation"
    }
    checksum_reaper = {
      description = "Re-queues or fails checksums whose job stopped reporting"
      handler     = "upload_checksum.lambda_handlers.reaper_handler"
      artifact    = "checksum"
      queue       = null
    }
    dispatcher = {
      description = "Delivers pending notifications from the outbox to Ingest"
      handler     = "upload_api.lambda_handlers.dispatcher_handler"
      artifact    = "api"
      queue       = null
    }
    validation_sweep = {
      description = "Marks validations whose Batch job failed or vanished as FAILED"
      handler     = "upload_api.lambda_handlers.validation_sweep_handler"
      artifact    = "api"
      queue       = null
    }
    reconcile = {
      description = "Queues stored objects whose events were lost (store listing vs database)"
      handler     = "upload_checksum.lambda_handlers.reconcile_handler"
      artifact    = "checksum"
      queue       = null
    }
    area_expiry = {
      description = "Warns of expiring areas (area_expiring) and queues the deletion of expired ones"
      handler     = "upload_api.lambda_handlers.area_expiry_handler"
      artifact    = "api"
      queue       = null
    }
  }

  artifacts = {
    api      = { filename = var.api_zip_path, s3_key = var.api_zip_s3_key, source_code_hash = var.api_zip_sha256 }
    checksum = { filename = var.checksum_zip_path, s3_key = var.checksum_zip_s3_key, source_code_hash = var.checksum_zip_sha256 }
  }

  functions = { for name, definition in local.definitions : name => merge(definition, var.functions[name]) }

  queue_fed = { for name, function in local.functions : name => function if function.queue != null }
  scheduled = { for name, function in local.functions : name => function if function.queue == null }

  policies = {
    checksum         = data.aws_iam_policy_document.checksum.json
    deletion         = data.aws_iam_policy_document.deletion.json
    scheduler        = data.aws_iam_policy_document.scheduler.json
    checksum_reaper  = data.aws_iam_policy_document.checksum_reaper.json
    dispatcher       = data.aws_iam_policy_document.dispatcher.json
    validation_sweep = data.aws_iam_policy_document.validation_sweep.json
    reconcile        = data.aws_iam_policy_document.reconcile.json
    area_expiry      = data.aws_iam_policy_document.area_expiry.json
  }
}

module "function" {
  source   = "../lambda_function"
  for_each = local.functions

  function_name    = "${var.name}-${replace(each.key, "_", "-")}"
  description      = each.value.description
  filename         = local.artifacts[each.value.artifact].filename
  s3_bucket        = var.artifacts_bucket
  s3_key           = local.artifacts[each.value.artifact].s3_key
  source_code_hash = local.artifacts[each.value.artifact].source_code_hash
  handler          = each.value.handler
  memory_size      = each.value.memory_size
  timeout          = each.value.timeout
  environment_variables = merge(
    var.environment_variables,
    lookup(var.function_environment_variables, each.key, {}),
  )
  attach_policy                  = true
  policy_json                    = local.policies[each.key]
  vpc_config                     = var.vpc_config
  reserved_concurrent_executions = each.value.reserved_concurrent_executions
  log_retention_days             = var.log_retention_days
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags
}

resource "aws_lambda_event_source_mapping" "this" {
  for_each = local.queue_fed

  event_source_arn                   = var.queue_arns[each.value.queue]
  function_name                      = module.function[each.key].lambda_function_arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.maximum_batching_window_in_seconds
  # Handlers return batchItemFailures: one bad message never sends the whole batch back.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = each.value.maximum_concurrency
  }
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each = local.scheduled

  name                = "${var.name}-${replace(each.key, "_", "-")}"
  description         = each.value.description
  schedule_expression = each.value.schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = local.scheduled

  rule = aws_cloudwatch_event_rule.schedule[each.key].name
  arn  = module.function[each.key].lambda_function_arn
}

resource "aws_lambda_permission" "schedule" {
  for_each = local.scheduled

  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.function[each.key].lambda_function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}
