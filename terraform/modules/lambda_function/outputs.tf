output "lambda_function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "lambda_function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "lambda_function_invoke_arn" {
  description = "ARN that API Gateway uses to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "lambda_role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "lambda_role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "cloudwatch_log_group_name" {
  description = "Log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}
