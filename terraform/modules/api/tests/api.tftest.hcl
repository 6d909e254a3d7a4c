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
