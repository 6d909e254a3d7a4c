mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

override_resource {
  target = aws_sns_topic.alarms
  values = {
    arn = "arn:aws:sns:us-east-1:123456789012:upload-test-alarms"
  }
}

variables {
  name        = "upload-test"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/k"
  alarm_subscriptions = [
    { protocol = "email", endpoint = "ops@example.org" },
    { protocol = "https", endpoint = "https://hooks.example.org/alarms" },
  ]
  queue_names = {
    checksum   = "upload-test-checksum"
    deletion   = "upload-test-deletion"
    validation = "upload-test-validation"
  }
  dead_letter_queue_names = {
    checksum   = "upload-test-checksum-dlq"
    deletion   = "upload-test-deletion-dlq"
    validation = "upload-test-validation-dlq"
  }
  lambda_function_names = {
    api      = "upload-test-api"
    checksum = "upload-test-checksum"
  }
  api_id = "a1b2c3"
  batch_job_queue_arns = {
    checksum   = "arn:aws:batch:us-east-1:123456789012:job-queue/upload-test-checksum"
    validation = "arn:aws:batch:us-east-1:123456789012:job-queue/upload-test-validation"
  }
  db_instance_identifier = "upload-test"
}

run "one_encrypted_topic_with_the_given_subscriptions" {
  command = apply

  assert {
    condition     = aws_sns_topic.alarms.name == "upload-test-alarms" && aws_sns_topic.alarms.kms_master_key_id == var.kms_key_arn
    error_message = "the stage has one topic, encrypted with the stage's key"
  }

  assert {
    condition     = toset([for s in aws_sns_topic_subscription.alarms : "${s.protocol}:${s.endpoint}"]) == toset(["email:ops@example.org", "https:https://hooks.example.org/alarms"])
    error_message = "every alarm subscription is a subscription of the topic"
  }

  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.topic.statement :
      s.actions == toset(["sns:Publish"]) && one([for p in s.principals : p.identifiers]) == toset(["cloudwatch.amazonaws.com", "events.amazonaws.com"]) &&
    anytrue([for c in s.condition : c.variable == "aws:SourceAccount" && contains(c.values, "123456789012")])])
    error_message = "only CloudWatch and EventBridge of this account may publish to the topic"
  }
}

run "an_alarm_on_every_item_and_all_to_the_topic" {
  command = apply

  assert {
    condition = toset(output.cloudwatch_metric_alarm_names) == toset([
      "upload-test-dead-letters-checksum", "upload-test-dead-letters-deletion", "upload-test-dead-letters-validation",
      "upload-test-oldest-message-checksum", "upload-test-oldest-message-deletion", "upload-test-oldest-message-validation",
      "upload-test-errors-api", "upload-test-errors-checksum", "upload-test-throttles-api", "upload-test-throttles-checksum",
      "upload-test-api-5xx", "upload-test-notifications-failed",
      "upload-test-database-cpu", "upload-test-database-free-storage", "upload-test-database-connections",
    ])
    error_message = "dead letters, message age, function errors and throttles, API 5xx, FAILED notifications and the database each have an alarm"
  }

  assert {
    condition = alltrue([for a in concat(
      values(aws_cloudwatch_metric_alarm.dead_letters), values(aws_cloudwatch_metric_alarm.oldest_message),
      values(aws_cloudwatch_metric_alarm.function_errors), values(aws_cloudwatch_metric_alarm.function_throttles),
      values(aws_cloudwatch_metric_alarm.database),
      [aws_cloudwatch_metric_alarm.api_5xx, aws_cloudwatch_metric_alarm.notifications_failed],
    ) : a.alarm_actions == toset([aws_sns_topic.alarms.arn])])
    error_message = "every alarm publishes to the stage's topic"
  }

  assert {
    condition = alltrue([for name, a in aws_cloudwatch_metric_alarm.dead_letters :
    a.namespace == "AWS/SQS" && a.metric_name == "ApproximateNumberOfMessagesVisible" && a.threshold == 0 && a.comparison_operator == "GreaterThanThreshold" && a.dimensions.QueueName == "upload-test-${name}-dlq"])
    error_message = "a dead-letter queue alarms on its first message"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.api_5xx.namespace == "AWS/ApiGateway" && aws_cloudwatch_metric_alarm.api_5xx.metric_name == "5xx" && aws_cloudwatch_metric_alarm.api_5xx.dimensions["ApiId"] == "a1b2c3"
    error_message = "the HTTP API's metric is 5xx per ApiId"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.notifications_failed.namespace == "dcp-upload" && aws_cloudwatch_metric_alarm.notifications_failed.metric_name == "NotificationsFailed" && aws_cloudwatch_metric_alarm.notifications_failed.dimensions["Stage"] == "upload-test"
    error_message = "FAILED notifications are watched through the metric the dispatcher emits (upload_common.metrics)"
  }
}

run "failed_batch_jobs_of_the_stage_go_to_the_topic" {
  command = apply

  assert {
    condition = aws_cloudwatch_event_rule.batch_failed.event_pattern == jsonencode({
      source      = ["aws.batch"]
      detail-type = ["Batch Job State Change"]
      detail = {
        status   = ["FAILED"]
        jobQueue = values(var.batch_job_queue_arns)
      }
    })
    error_message = "the rule matches FAILED jobs of the stage's job queues only"
  }

  assert {
    condition     = aws_cloudwatch_event_target.batch_failed.arn == aws_sns_topic.alarms.arn
    error_message = "FAILED Batch jobs are published to the topic"
  }
}

run "rejects_an_unknown_subscription_protocol" {
  command = plan

  variables {
    alarm_subscriptions = [{ protocol = "pager", endpoint = "x" }]
  }

  expect_failures = [var.alarm_subscriptions]
}
