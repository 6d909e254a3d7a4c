output "batch_job_queue_arns" {
  description = "ARN of each job queue, by kind of job."
  value       = { for name, queue in aws_batch_job_queue.this : name => queue.arn }
}

output "batch_compute_environment_arns" {
  description = "ARN of each compute environment, by kind of job."
  value       = { for name, ce in aws_batch_compute_environment.this : name => ce.arn }
}

output "iam_job_role_arns" {
  description = "ARN of the role each kind of job runs as."
  value       = { for name, role in aws_iam_role.job : name => role.arn }
}

output "iam_instance_role_arn" {
  description = "Role of the compute environments' instances."
  value       = aws_iam_role.instance.arn
}

output "security_group_id" {
  description = "Security group of the Batch instances."
  value       = aws_security_group.this.id
}
