# The REST API: an API Gateway HTTP API whose routes proxy every request to the API Lambda (Mangum adapts
# the payload-2.0 event to the ASGI app): the default route, and explicit routes for the unauthenticated
# endpoints, each throttled on its own. Access logs go to their own log group.

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "DCP upload service API (${var.name})"

  tags = var.tags
}

locals {
  # The function learns its own public base URL (for callbacks it hands to jobs) from its environment.
  public_url = var.domain_name == null ? aws_apigatewayv2_api.this.api_endpoint : "https://${var.domain_name}"
  environment_variables = merge(
    var.environment_variables,
    var.public_url_environment_variable == null ? {} : { (var.public_url_environment_variable) = local.public_url },
  )
}

module "function" {
  source = "../lambda_function"

  function_name                  = var.name
  description                    = "DCP upload service REST API"
  filename                       = var.filename
  s3_bucket                      = var.s3_bucket
  s3_key                         = var.s3_key
  source_code_hash               = var.source_code_hash
  handler                        = var.handler
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  environment_variables          = local.environment_variables
  attach_policy                  = var.attach_policy
  policy_json                    = var.policy_json
  vpc_config                     = var.vpc_config
  reserved_concurrent_executions = var.reserved_concurrent_executions
  log_retention_days             = var.log_retention_days
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = module.function.lambda_function_invoke_arn
  payload_format_version = "2.0"
  # API Gateway's own ceiling; the function's timeout is kept below it.
  timeout_milliseconds = 30000
}

locals {
  # The unauthenticated endpoints (an area id is their only capability), each with a route of its own so
  # that each is throttled on its own. `{filename+}` is greedy: a name may hold `/` once decoded.
  open_routes = {
    credentials       = "POST /v1/area/{upload_area_uuid}/credentials"
    notify_uploaded   = "POST /v1/area/{upload_area_uuid}/{filename+}"
    files_info        = "PUT /v1/area/{upload_area_uuid}/files_info"
    list_files        = "GET /v1/area/{upload_area_uuid}/files"
    checksum_counts   = "GET /v1/area/{upload_area_uuid}/checksums"
    validation_counts = "GET /v1/area/{upload_area_uuid}/validations"
  }
  # POSTs the greedy file route would catch too: the Api-Key and job-token endpoints keep the stage's
  # default throttling (the most specific route wins).
  trusted_posts = {
    lock              = "POST /v1/area/{upload_area_uuid}/lock"
    update_checksum   = "POST /v1/area/{upload_area_uuid}/update_checksum/{record_id}"
    update_validation = "POST /v1/area/{upload_area_uuid}/update_validation/{record_id}"
  }
  open_route_throttling = merge({
    credentials       = { rate_limit = 10, burst_limit = 20 } # each an STS session
    notify_uploaded   = { rate_limit = 50, burst_limit = 100 }
    files_info        = { rate_limit = 10, burst_limit = 20 } # up to 1,000 lookups each
    list_files        = { rate_limit = 20, burst_limit = 40 }
    checksum_counts   = { rate_limit = 20, burst_limit = 40 }
    validation_counts = { rate_limit = 20, burst_limit = 40 }
  }, var.open_route_throttling)
}

# Authorization happens in the application (Api-Key, area capability, per-job tokens), not at the gateway.
resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:authorization is the application's (Api-Key, area capability, per-job tokens) and differs per path; public paths exist (DESIGN §4)
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = "NONE"
}

# The same integration as the default route; these routes exist for their throttling (route_settings).
resource "aws_apigatewayv2_route" "explicit" {
  #checkov:skip=CKV_AWS_309:authorization is the application's (area capability, Api-Key, per-job tokens), as on the default route; these routes exist only to be throttled one by one
  for_each = merge(local.open_routes, local.trusted_posts)

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = "NONE"
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  # HTTP APIs throttle per route, never per client (and WAF cannot be attached to them): these limits are
  # shared by every caller of the route; the API's own middleware adds per-client and per-area limits.
  dynamic "route_settings" {
    for_each = local.open_routes
    content {
      route_key              = route_settings.value
      throttling_rate_limit  = local.open_route_throttling[route_settings.key].rate_limit
      throttling_burst_limit = local.open_route_throttling[route_settings.key].burst_limit
    }
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      path           = "$context.path"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latency        = "$context.integrationLatency"
      error          = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags

  # Route settings name routes that must exist first.
  depends_on = [aws_apigatewayv2_route.explicit]
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.function.lambda_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*"
}

resource "aws_apigatewayv2_domain_name" "this" {
  count = var.domain_name == null ? 0 : 1

  domain_name = var.domain_name

  domain_name_configuration {
    certificate_arn = var.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = var.tags
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.domain_name == null ? 0 : 1

  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this[0].id
  stage       = aws_apigatewayv2_stage.this.id
}
