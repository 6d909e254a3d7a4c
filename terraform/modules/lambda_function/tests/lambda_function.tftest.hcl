# Plan-level tests with a mocked AWS provider: nothing is created and no credentials are needed.

mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  function_name    = "upload-test-worker"
  filename         = "dist/lambda/checksum.zip"
  source_code_hash = "dGVzdA=="
  handler          = "upload_checksum.lambda_handlers.handler"
  environment_variables = {
    UPLOAD_STORAGE_URL = "s3://upload-test"
  }
}

run "defaults_outside_vpc" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.runtime == "python3.11" && aws_lambda_function.this.architectures == tolist(["x86_64"])
    error_message = "the zips are built for CPython 3.11 on x86_64"
  }

  assert {
    condition     = aws_lambda_function.this.handler == "upload_checksum.lambda_handlers.handler"
    error_message = "handler not passed through"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables == tomap({ UPLOAD_STORAGE_URL = "s3://upload-test" })
    error_message = "environment not passed through"
  }

  assert {
    condition     = length(aws_lambda_function.this.vpc_config) == 0
    error_message = "a function without vpc_config must not be placed in a VPC"
  }

  assert {
    condition     = aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "tracing must be on by default"
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/upload-test-worker" && aws_cloudwatch_log_group.this.retention_in_days == 90
    error_message = "the log group must be the function's, with a retention"
  }

  assert {
    condition     = length(aws_iam_role_policy.this) == 0
    error_message = "no permissions policy is attached unless asked"
  }

  assert {
    condition     = !contains(flatten([for s in data.aws_iam_policy_document.base.statement : s.actions]), "ec2:CreateNetworkInterface")
    error_message = "a function outside a VPC needs no network-interface permissions"
  }
}

run "in_vpc_with_policy" {
  # Applied against the mock provider (nothing is created), so that computed ARNs are known.
  command = apply

  variables {
    vpc_config = {
      subnet_ids         = ["subnet-1", "subnet-2"]
      security_group_ids = ["sg-1"]
    }
    attach_policy = true
    policy_json   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}]}"
    kms_key_arn   = "arn:aws:kms:us-east-1:123456789012:key/k"
  }

  assert {
    condition     = aws_lambda_function.this.vpc_config[0].subnet_ids == toset(["subnet-1", "subnet-2"])
    error_message = "vpc_config not passed through"
  }

  assert {
    condition     = length(aws_iam_role_policy.this) == 1 && aws_iam_role_policy.this[0].policy == var.policy_json
    error_message = "the caller's policy must be attached as given"
  }

  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.base.statement :
      s.sid != "VpcNetworkInterfaces" || (anytrue([for r in s.resources : endswith(r, ":subnet/subnet-1")]) && !contains(s.resources, "*"))
    ])
    error_message = "network-interface permissions must be scoped to the function's subnets and groups"
  }

  assert {
    condition     = aws_lambda_function.this.kms_key_arn == var.kms_key_arn && aws_cloudwatch_log_group.this.kms_key_id == var.kms_key_arn
    error_message = "environment and logs must be encrypted with the given key"
  }
}

run "rejects_a_handler_that_is_not_a_dotted_path" {
  command = plan

  variables {
    handler = "not a handler"
  }

  expect_failures = [var.handler]
}

run "rejects_another_runtime" {
  command = plan

  variables {
    runtime = "python3.12"
  }

  expect_failures = [var.runtime]
}

run "zip_from_the_artifacts_bucket" {
  command = plan

  variables {
    filename  = null
    s3_bucket = "upload-test-artifacts"
    s3_key    = "lambda/0123abcd/checksum.zip"
  }

  assert {
    condition     = aws_lambda_function.this.s3_bucket == "upload-test-artifacts" && aws_lambda_function.this.s3_key == "lambda/0123abcd/checksum.zip" && aws_lambda_function.this.filename == null
    error_message = "the zip must come from the artifacts bucket when s3_bucket and s3_key are given"
  }

  assert {
    condition     = aws_lambda_function.this.source_code_hash == "dGVzdA=="
    error_message = "the given hash must redeploy the function when the zip changes"
  }
}

run "rejects_a_file_and_a_bucket_at_once" {
  command = plan

  variables {
    s3_bucket = "upload-test-artifacts"
    s3_key    = "lambda/0123abcd/checksum.zip"
  }

  expect_failures = [var.s3_key]
}

run "rejects_a_bucket_zip_without_its_hash" {
  command = plan

  variables {
    filename         = null
    s3_bucket        = "upload-test-artifacts"
    s3_key           = "lambda/0123abcd/checksum.zip"
    source_code_hash = null
  }

  expect_failures = [var.source_code_hash]
}
