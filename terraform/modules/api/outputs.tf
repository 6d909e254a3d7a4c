output "apigatewayv2_api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "apigatewayv2_api_endpoint" {
  description = "Default execute-api endpoint of the HTTP API."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "api_public_url" {
  description = "Base URL that clients and jobs use: the custom domain when set, else the execute-api endpoint."
  value       = local.public_url
}

output "lambda_function_name" {
  description = "Name of the API function."
  value       = module.function.lambda_function_name
}

output "lambda_function_arn" {
  description = "ARN of the API function."
  value       = module.function.lambda_function_arn
}

output "lambda_role_arn" {
  description = "Execution role of the API function."
  value       = module.function.lambda_role_arn
}

output "lambda_role_name" {
  description = "Name of the API function's execution role."
  value       = module.function.lambda_role_name
}

output "open_route_throttling" {
  description = "Throttling of each unauthenticated endpoint's route, by route key: rate_limit (per second) and burst_limit."
  value       = { for name, route_key in local.open_routes : route_key => local.open_route_throttling[name] }
}
