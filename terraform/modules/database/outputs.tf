output "db_instance_address" {
  description = "Host name of the database (resolves to private addresses only)."
  value       = aws_db_instance.this.address
}

output "db_instance_port" {
  description = "Port of the database."
  value       = aws_db_instance.this.port
}

output "db_instance_name" {
  description = "Name of the service database inside the instance."
  value       = aws_db_instance.this.db_name
}

output "db_instance_username" {
  description = "Master user name (its password lives only in the secret)."
  value       = aws_db_instance.this.username
}

output "db_instance_master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret, managed by RDS, that holds the master credentials."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "db_instance_arn" {
  description = "ARN of the database instance."
  value       = aws_db_instance.this.arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}

output "db_instance_resource_id" {
  description = "Resource id of the instance (`db-...`): IAM database authentication grants `rds-db:connect` on `dbuser:<resource id>/<role>`."
  value       = aws_db_instance.this.resource_id
}
