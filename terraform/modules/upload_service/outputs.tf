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
  description = "Every function of the stage, by logical name (api and the workers)."
  value       = merge({ api = module.api.lambda_function_name }, module.workers.lambda_function_names)
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
  description = "Security group of the database (migrations must run from a group listed in database.extra_client_security_group_ids)."
  value       = module.database.security_group_id
}
