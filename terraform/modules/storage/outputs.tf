output "s3_bucket_id" {
  description = "Name of the upload bucket."
  value       = aws_s3_bucket.this.bucket
}

output "s3_bucket_arn" {
  description = "ARN of the upload bucket."
  value       = aws_s3_bucket.this.arn
}

output "sqs_queue_url_prefix" {
  description = "URL prefix of the queues: the URL of queue `<name>` is `<prefix>-<name>` (the value of UPLOAD_QUEUE_URL)."
  value       = trimsuffix(aws_sqs_queue.this["checksum"].url, "-checksum")
}

output "sqs_queue_urls" {
  description = "URL of each queue, by logical name."
  value       = { for name, queue in aws_sqs_queue.this : name => queue.url }
}

output "sqs_queue_arns" {
  description = "ARN of each queue, by logical name."
  value       = { for name, queue in aws_sqs_queue.this : name => queue.arn }
}

output "sqs_dead_letter_queue_arns" {
  description = "ARN of each dead-letter queue, by logical name of its queue."
  value       = { for name, queue in aws_sqs_queue.dlq : name => queue.arn }
}

output "sqs_dead_letter_queue_urls" {
  description = "URL of each dead-letter queue, by logical name of its queue."
  value       = { for name, queue in aws_sqs_queue.dlq : name => queue.url }
}
