# The deploy command reads these (migration, smoke checks); operators read them too.

output "api_public_url" {
  description = "Base URL of the REST API."
  value       = module.upload_service.api_public_url
}

output "s3_bucket_id" {
  description = "Name of the upload bucket."
  value       = module.upload_service.s3_bucket_id
}

output "sqs_queue_url_prefix" {
  description = "UPLOAD_QUEUE_URL of the stage."
  value       = module.upload_service.sqs_queue_url_prefix
}

output "db_instance_address" {
  description = "Private host name of the database."
  value       = module.upload_service.db_instance_address
}

output "db_instance_port" {
  description = "Port of the database."
  value       = module.upload_service.db_instance_port
}

output "db_instance_name" {
  description = "Name of the service database."
  value       = module.upload_service.db_instance_name
}

output "db_instance_username" {
  description = "Master user of the database."
  value       = module.upload_service.db_instance_username
}

output "db_instance_master_user_secret_arn" {
  description = "Secret (managed by RDS) with the database credentials."
  value       = module.upload_service.db_instance_master_user_secret_arn
}

output "secretsmanager_secret_arns" {
  description = "Secrets an operator fills in, by name."
  value       = module.upload_service.secretsmanager_secret_arns
}

output "lambda_function_names" {
  description = "Every function of the stage, by logical name."
  value       = module.upload_service.lambda_function_names
}

output "ecr_repository_urls" {
  description = "Repository of each image, by image."
  value       = module.registry.ecr_repository_urls
}

output "s3_artifacts_bucket_id" {
  description = "Artifacts bucket of the stage."
  value       = module.registry.s3_artifacts_bucket_id
}

output "migration_function_name" {
  description = "The migration function (deploy.migrate invokes it when the apply did not)."
  value       = module.upload_service.migration_function_name
}

output "database_migration" {
  description = "What the apply's migration did, as JSON (from_revision, to_revision, applied); null when it did not run."
  value       = module.upload_service.database_migration
}
