output "api_public_url" {
  description = "Base URL of the REST API."
  value       = module.api.api_public_url
}

output "s3_bucket_id" {
  description = "Name of the upload bucket."
  value       = module.storage.s3_bucket_id
}

output "sqs_queue_url_prefix" {
  description = "UPLOAD_QUEUE_URL: the queues are `<prefix>-checksum`, `-deletion`, `-validation`."
  value       = module.storage.sqs_queue_url_prefix
}

output "sqs_dead_letter_queue_urls" {
  description = "Dead-letter queue of each queue, by logical name (to watch and redrive)."
  value       = module.storage.sqs_dead_letter_queue_urls
}

output "db_instance_address" {
  description = "Private host name of the database."
  value       = module.database.db_instance_address
}

output "db_instance_port" {
  description = "Port of the database."
  value       = module.database.db_instance_port
}

output "db_instance_name" {
  description = "Name of the service database."
  value       = module.database.db_instance_name
}

output "db_instance_username" {
  description = "Master user of the database."
  value       = module.database.db_instance_username
}

output "db_instance_master_user_secret_arn" {
  description = "Secret (managed by RDS) with the database credentials."
  value       = module.database.db_instance_master_user_secret_arn
}

output "secretsmanager_secret_arns" {
  description = "Secrets an operator fills in, by name: api-keys, ingest-secret, secret-key (and ingest-jwt-key with ingest_jwt)."
  value       = { for name, secret in aws_secretsmanager_secret.this : name => secret.arn }
}

output "iam_submitter_role_arn" {
  description = "Role assumed (narrowed to one area) for submitters' upload credentials."
  value       = aws_iam_role.submitter.arn
}

output "iam_staging_role_arn" {
  description = "Role assumed (narrowed to one validation's objects) for validation jobs' staging credentials."
  value       = aws_iam_role.staging.arn
}

output "lambda_function_names" {
  description = "Every function of the stage, by logical name (api, migrate, health_report and the workers)."
  value       = local.function_names
}

output "batch_job_queue_arns" {
  description = "Batch job queue of each kind of job."
  value       = module.batch.batch_job_queue_arns
}

output "kms_key_arn" {
  description = "The stage's KMS key."
  value       = aws_kms_key.this.arn
}

output "database_security_group_id" {
  description = "Security group of the database (an operator's `upload-db` must run from a group listed in database.extra_client_security_group_ids; the apply's migration runs in the VPC)."
  value       = module.database.security_group_id
}

output "migration_function_name" {
  description = "The migration function (`python -m deploy` invokes it when the apply did not: run_migrations = false)."
  value       = module.migration.lambda_function_name
}

output "database_migration" {
  description = "What the apply's migration did, as the function's JSON result (from_revision, to_revision, applied, rds_iam_roles); null when run_migrations is false."
  value       = var.run_migrations ? aws_lambda_invocation.migrate[0].result : null
}

output "db_instance_resource_id" {
  description = "Resource id of the database instance (the `dbuser:<resource id>/<role>` of IAM database authentication)."
  value       = module.database.db_instance_resource_id
}

output "sns_alarm_topic_arn" {
  description = "The stage's alarm topic: every alarm and FAILED Batch job is published to it."
  value       = module.monitoring.sns_topic_arn
}

output "cloudwatch_metric_alarm_names" {
  description = "Name of every alarm of the stage (runbook: docs/operations.md, \"Alarms\")."
  value       = module.monitoring.cloudwatch_metric_alarm_names
}

output "health_webhook_secret_arn" {
  description = "Secret an operator fills with the health report's webhook URL (`aws secretsmanager put-secret-value`)."
  value       = aws_secretsmanager_secret.health_webhook.arn
}
