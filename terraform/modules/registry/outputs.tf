output "ecr_repository_urls" {
  description = "URL of each image's repository (`<account>.dkr.ecr.<region>.amazonaws.com/<name>/<image>`), by image."
  value       = { for image, repository in aws_ecr_repository.this : image => repository.repository_url }
}

output "ecr_repository_arns" {
  description = "ARN of each image's repository, by image."
  value       = { for image, repository in aws_ecr_repository.this : image => repository.arn }
}

output "s3_artifacts_bucket_id" {
  description = "Name of the artifacts bucket."
  value       = aws_s3_bucket.artifacts.id
}

output "s3_artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  value       = aws_s3_bucket.artifacts.arn
}
