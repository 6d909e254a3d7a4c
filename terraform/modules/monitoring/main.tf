# What an operator hears of: one SNS topic per stage, CloudWatch alarms on every failure the service
# cannot repair by itself, and Batch jobs that end FAILED (EventBridge). docs/operations.md has a
# runbook entry per alarm. Alarm names are `<name>-<what>[-<which>]`.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  # Metrics the service emits itself (EMF lines, upload_common.metrics), per stage.
  namespace      = "dcp-upload"
  alarm_actions  = [aws_sns_topic.alarms.arn]
  period_seconds = 300
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "topic" {
  # CloudWatch alarms and the EventBridge rule of this account publish; nothing else does.
  statement {
    sid       = "AlarmsAndEventsOfThisAccountPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "alarms" {
  for_each = { for s in var.alarm_subscriptions : "${s.protocol}:${s.endpoint}" => s }

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

# A dead-letter queue holds what a consumer failed on max_receive_count times: always worth a look.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each = var.dead_letter_queue_names

  alarm_name          = "${var.name}-dead-letters-${each.key}"
  alarm_description   = "Messages in the dead-letter queue ${each.value}: see docs/operations.md, \"Alarms\"."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = local.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  for_each = var.queue_names

  alarm_name          = "${var.name}-oldest-message-${each.key}"
  alarm_description   = "The oldest message of ${each.value} waits longer than ${var.oldest_message_age_threshold_seconds} s: see docs/operations.md, \"Alarms\"."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = local.period_seconds
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = var.lambda_function_names

  alarm_name          = "${var.name}-errors-${each.key}"
  alarm_description   = "Function ${each.value} raised an error: see docs/operations.md, \"Alarms\"."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = local.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = var.lambda_function_names

  alarm_name          = "${var.name}-throttles-${each.key}"
  alarm_description   = "Function ${each.value} was throttled: see docs/operations.md, \"Alarms\"."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = local.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

# The api module creates an HTTP API (API Gateway v2): its metric is `5xx`, per ApiId.
resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "The API answered 5xx at least ${var.api_5xx_threshold} times in 5 minutes: see docs/operations.md, \"Alarms\"."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = var.api_id }
  statistic           = "Sum"
  period              = local.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.api_5xx_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = var.tags
}

# The dispatcher prints an EMF line when a notification runs out of attempts (FAILED).
resource "aws_cloudwatch_metric_alarm" "notifications_failed" {
  alarm_name          = "${var.name}-notifications-failed"
  alarm_description   = "A notification to Ingest ran out of delivery attempts (FAILED): see docs/operations.md, \"Alarms\"."
  namespace           = local.namespace
  metric_name         = "NotificationsFailed"
  dimensions          = { Stage = var.name }
  statistic           = "Sum"
  period              = local.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  tags = var.tags
}

locals {
  database_alarms = {
    cpu = {
      metric      = "CPUUtilization", statistic = "Average", operator = "GreaterThanThreshold",
      threshold   = var.database_thresholds.cpu_percent, periods = 3,
      description = "The database's CPU is above ${var.database_thresholds.cpu_percent} % for 15 minutes"
    }
    free-storage = {
      metric      = "FreeStorageSpace", statistic = "Minimum", operator = "LessThanThreshold",
      threshold   = var.database_thresholds.free_storage_bytes, periods = 1,
      description = "The database has less than ${var.database_thresholds.free_storage_bytes} bytes of free storage"
    }
    connections = {
      metric      = "DatabaseConnections", statistic = "Maximum", operator = "GreaterThanThreshold",
      threshold   = var.database_thresholds.connections, periods = 2,
      description = "The database holds more than ${var.database_thresholds.connections} connections"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "database" {
  for_each = local.database_alarms

  alarm_name          = "${var.name}-database-${each.key}"
  alarm_description   = "${each.value.description}: see docs/operations.md, \"Alarms\"."
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = each.value.statistic
  period              = local.period_seconds
  evaluation_periods  = each.value.periods
  comparison_operator = each.value.operator
  threshold           = each.value.threshold
  # No data from the database is itself a problem worth hearing about.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions

  tags = var.tags
}

# Batch retries a job lost with its host by itself (retry strategy), so FAILED is final: the job
# exhausted its attempts or failed in its own code. The reaper and the sweep handle the record; the
# operator hears of it here.
resource "aws_cloudwatch_event_rule" "batch_failed" {
  name        = "${var.name}-batch-job-failed"
  description = "Batch jobs of ${var.name} that end FAILED"
  event_pattern = jsonencode({
    source      = ["aws.batch"]
    detail-type = ["Batch Job State Change"]
    detail = {
      status   = ["FAILED"]
      jobQueue = values(var.batch_job_queue_arns)
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "batch_failed" {
  rule      = aws_cloudwatch_event_rule.batch_failed.name
  target_id = "alarms-topic"
  arn       = aws_sns_topic.alarms.arn

  input_transformer {
    input_paths = {
      job    = "$.detail.jobName"
      id     = "$.detail.jobId"
      queue  = "$.detail.jobQueue"
      reason = "$.detail.statusReason"
    }
    input_template = "\"${var.name}: Batch job <job> (<id>) in <queue> ended FAILED: <reason>. See docs/operations.md, Alarms.\""
  }
}
