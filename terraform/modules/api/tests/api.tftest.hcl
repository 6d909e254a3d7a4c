mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  name             = "upload-test-api"
  filename         = "dist/lambda/api.zip"
  source_code_hash = "dGVzdA=="
  environment_variables = {
    UPLOAD_STORAGE_URL = "s3://upload-test"
  }
}

run "http_api_proxies_everything_to_the_function" {
  command = apply

  assert {
    condition     = aws_apigatewayv2_api.this.protocol_type == "HTTP"
    error_message = "the API must be an HTTP API"
  }

  assert {
    condition     = aws_apigatewayv2_route.default.route_key == "$default" && aws_apigatewayv2_integration.this.integration_type == "AWS_PROXY" && aws_apigatewayv2_integration.this.payload_format_version == "2.0"
    error_message = "every request must be proxied to the function with payload 2.0 (what Mangum reads)"
  }

  assert {
    condition     = module.function.lambda_function_name == "upload-test-api"
    error_message = "the function is named after the API"
  }

  assert {
    condition     = aws_lambda_permission.api.principal == "apigateway.amazonaws.com" && aws_lambda_permission.api.source_arn == "${aws_apigatewayv2_api.this.execution_arn}/*"
    error_message = "only this API may invoke the function"
  }

  assert {
    condition     = length(aws_apigatewayv2_stage.this.access_log_settings) == 1
    error_message = "access logs must be on"
  }

  assert {
    condition     = output.api_public_url == "https://mock.execute-api.us-east-1.amazonaws.com"
    error_message = "without a custom domain the public URL is the execute-api endpoint"
  }

  assert {
    condition     = local.environment_variables["UPLOAD_PUBLIC_URL"] == output.api_public_url && local.environment_variables["UPLOAD_STORAGE_URL"] == "s3://upload-test"
    error_message = "the function must learn its own public URL next to the caller's environment"
  }
}

run "open_endpoints_have_routes_of_their_own_each_throttled" {
  command = apply

  variables {
    open_route_throttling = {
      credentials = { rate_limit = 3, burst_limit = 6 }
    }
  }

  assert {
    condition = toset([for route in aws_apigatewayv2_route.explicit : route.route_key]) == toset([
      "POST /v1/area/{upload_area_uuid}/credentials",
      "POST /v1/area/{upload_area_uuid}/{filename+}",
      "PUT /v1/area/{upload_area_uuid}/files_info",
      "GET /v1/area/{upload_area_uuid}/files",
      "GET /v1/area/{upload_area_uuid}/checksums",
      "GET /v1/area/{upload_area_uuid}/validations",
      "POST /v1/area/{upload_area_uuid}/lock",
      "POST /v1/area/{upload_area_uuid}/update_checksum/{record_id}",
      "POST /v1/area/{upload_area_uuid}/update_validation/{record_id}",
    ])
    error_message = "every unauthenticated endpoint needs a route of its own, and the greedy file route must not catch the lock and the job callbacks"
  }

  assert {
    condition     = alltrue([for route in aws_apigatewayv2_route.explicit : route.target == "integrations/${aws_apigatewayv2_integration.this.id}"])
    error_message = "explicit routes go to the same integration as the default route"
  }

  assert {
    condition = { for s in aws_apigatewayv2_stage.this.route_settings : s.route_key => [s.throttling_rate_limit, s.throttling_burst_limit] } == {
      "POST /v1/area/{upload_area_uuid}/credentials" = [3, 6]
      "POST /v1/area/{upload_area_uuid}/{filename+}" = [50, 100]
      "PUT /v1/area/{upload_area_uuid}/files_info"   = [10, 20]
      "GET /v1/area/{upload_area_uuid}/files"        = [20, 40]
      "GET /v1/area/{upload_area_uuid}/checksums"    = [20, 40]
      "GET /v1/area/{upload_area_uuid}/validations"  = [20, 40]
    }
    error_message = "each open route is throttled on its own (overrides by name, defaults otherwise); the trusted POSTs keep the stage default"
  }

  assert {
    condition     = output.open_route_throttling["POST /v1/area/{upload_area_uuid}/credentials"].rate_limit == 3
    error_message = "the output tells the throttling by route key"
  }
}

run "rejects_unknown_or_zero_route_throttling" {
  command = plan

  variables {
    open_route_throttling = {
      credentials = { rate_limit = 0, burst_limit = 1 }
      lock        = { rate_limit = 1, burst_limit = 1 }
    }
  }

  expect_failures = [var.open_route_throttling]
}

run "custom_domain" {
  command = plan

  variables {
    domain_name     = "upload.dev.example.org"
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/c"
  }

  assert {
    condition     = length(aws_apigatewayv2_domain_name.this) == 1 && output.api_public_url == "https://upload.dev.example.org"
    error_message = "a custom domain must be mapped and become the public URL"
  }
}

run "rejects_a_timeout_above_the_gateway_limit" {
  command = plan

  variables {
    timeout = 60
  }

  expect_failures = [var.timeout]
}
