output "sns_topic_arn" {
  description = "The stage's alarm topic (subscribe more receivers to it)."
  value       = aws_sns_topic.alarms.arn
}

output "cloudwatch_metric_alarm_names" {
  description = "Name of every alarm of the stage."
  value = sort(concat(
    [for a in aws_cloudwatch_metric_alarm.dead_letters : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.oldest_message : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.function_errors : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.function_throttles : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.database : a.alarm_name],
    [aws_cloudwatch_metric_alarm.api_5xx.alarm_name, aws_cloudwatch_metric_alarm.notifications_failed.alarm_name],
  ))
}

output "cloudwatch_event_rule_name" {
  description = "EventBridge rule that publishes FAILED Batch jobs to the topic."
  value       = aws_cloudwatch_event_rule.batch_failed.name
}
