output "lambda_function_names" {
  description = "Name of each worker function, by logical name."
  value       = { for name, function in module.function : name => function.lambda_function_name }
}

output "lambda_function_arns" {
  description = "ARN of each worker function, by logical name."
  value       = { for name, function in module.function : name => function.lambda_function_arn }
}

output "lambda_role_arns" {
  description = "Execution role of each worker function, by logical name."
  value       = { for name, function in module.function : name => function.lambda_role_arn }
}

output "lambda_event_source_mapping_uuids" {
  description = "UUID of each queue-to-function mapping, by function name."
  value       = { for name, mapping in aws_lambda_event_source_mapping.this : name => mapping.uuid }
}

output "cloudwatch_event_rule_names" {
  description = "Schedule rule of each scheduled function, by function name."
  value       = { for name, rule in aws_cloudwatch_event_rule.schedule : name => rule.name }
}
