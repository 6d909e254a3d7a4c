mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  name                = "upload-test"
  bucket_name         = "upload-test-bucket"
  api_zip_path        = "dist/lambda/api.zip"
  api_zip_sha256      = "YXBp"
  checksum_zip_path   = "dist/lambda/checksum.zip"
  checksum_zip_sha256 = "Y2hlY2tzdW0="
  vpc_cidr_block      = "10.250.0.0/16"
  availability_zones  = ["us-east-1a", "us-east-1b"]
  ingest_url          = "https://ingest.example.org"
  checksum_job_image  = "123456789012.dkr.ecr.us-east-1.amazonaws.com/upload-test/checksum:1.0.0-abcdef12"
  validator_images    = ["123456789012.dkr.ecr.us-east-1.amazonaws.com/upload-test/validator-json:1.0.0-abcdef12"]
}

run "functions_get_wiring_and_secret_arns_never_secrets" {
  command = apply

  assert {
    condition = toset(keys(local.environment)) == toset([
      "UPLOAD_STORAGE_URL", "UPLOAD_QUEUE_URL", "UPLOAD_JOB_RUNNER", "UPLOAD_BATCH_NAME_PREFIX", "UPLOAD_DATABASE_URL",
      "UPLOAD_DATABASE_IAM_AUTH", "UPLOAD_API_KEYS_SECRET_ARN", "UPLOAD_INGEST_SECRET_ARN", "UPLOAD_SECRET_KEY_SECRET_ARN",
      "UPLOAD_CHECKSUM_INLINE_MAX_BYTES", "UPLOAD_INGEST_URL", "UPLOAD_VALIDATOR_IMAGES",
      "UPLOAD_AREA_TTL_SECONDS", "UPLOAD_AREA_EXPIRY_WARNING_SECONDS",
    ])
    error_message = "the shared environment changed: update this test and the settings together"
  }

  assert {
    condition     = local.environment.UPLOAD_STORAGE_URL == "s3://upload-test-bucket" && local.environment.UPLOAD_JOB_RUNNER == "aws-batch"
    error_message = "storage and job runner must point at the bucket and Batch"
  }

  assert {
    condition     = tolist(jsondecode(local.environment.UPLOAD_VALIDATOR_IMAGES)) == tolist(["123456789012.dkr.ecr.us-east-1.amazonaws.com/upload-test/validator-json:1.0.0-abcdef12"])
    error_message = "exactly the wired validator images may run on AWS (an explicit allow-list)"
  }

  assert {
    condition     = local.environment.UPLOAD_QUEUE_URL == module.storage.sqs_queue_url_prefix
    error_message = "UPLOAD_QUEUE_URL is the queues' URL prefix"
  }

  assert {
    condition     = local.environment.UPLOAD_DATABASE_URL == "postgresql+psycopg://upload@mock.abcdefghij.us-east-1.rds.amazonaws.com:5432/upload?sslmode=require"
    error_message = "the database URL carries the user and host, never the password"
  }

  assert {
    condition     = local.environment.UPLOAD_DATABASE_IAM_AUTH == "true" && !contains(keys(local.secret_arns), "database")
    error_message = "by default the services log in with IAM tokens and may not read the master secret"
  }

  assert {
    condition = alltrue([for env in concat([local.environment], values(local.batch_environment)) :
    length(setintersection(toset(keys(env)), toset(["UPLOAD_API_KEYS", "UPLOAD_INGEST_SECRET", "UPLOAD_SECRET_KEY"]))) == 0])
    error_message = "secret values must never be in a function's environment"
  }

  assert {
    condition     = local.batch_environment.checksum.UPLOAD_BATCH_JOB_QUEUE == module.batch.batch_job_queue_arns["checksum"] && local.batch_environment.validation.UPLOAD_BATCH_JOB_ROLE_ARN == module.batch.iam_job_role_arns["validation"]
    error_message = "each kind of job gets its own queue and role"
  }

  assert {
    condition     = toset(keys(output.lambda_function_names)) == toset(["api", "migrate", "health_report", "checksum", "deletion", "scheduler", "checksum_reaper", "dispatcher", "validation_sweep", "reconcile", "area_expiry"])
    error_message = "the stage has the API, the migration function, the health report and the eight workers"
  }
}

run "submitter_may_put_and_list_only" {
  command = plan

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.submitter.statement : s.actions if !startswith(tolist(s.actions)[0], "kms:")])) == toset(["s3:PutObject", "s3:ListBucket", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"])
    error_message = "the submitter role may put objects, list, and resume or abort its multipart uploads, nothing else"
  }

  assert {
    condition     = !anytrue([for a in flatten([for s in data.aws_iam_policy_document.submitter.statement : s.actions]) : strcontains(a, "Tagging") || strcontains(a, "*")])
    error_message = "submitters must never tag objects (they would forge the checksum tags)"
  }

  assert {
    condition     = one(one([for s in data.aws_iam_policy_document.submitter.statement : s.condition if s.sid == "EncryptUploadsThroughS3"])).values == tolist(["s3.us-east-1.amazonaws.com"])
    error_message = "the submitter may use the key only through S3"
  }
}

run "staging_role_reads_objects_only_for_the_api" {
  command = apply

  assert {
    condition     = toset(flatten([for s in data.aws_iam_policy_document.staging.statement : s.actions])) == toset(["s3:GetObject", "kms:Decrypt"])
    error_message = "the staging role may read objects (and decrypt them through S3), nothing else"
  }

  assert {
    condition     = one(one([for s in data.aws_iam_policy_document.staging.statement : s.condition if s.sid == "DecryptObjectsThroughS3"])).values == tolist(["s3.us-east-1.amazonaws.com"])
    error_message = "the staging role may use the key only through S3"
  }

  assert {
    condition     = one(one(data.aws_iam_policy_document.staging_assume.statement).principals).identifiers == toset([module.api.lambda_role_arn])
    error_message = "only the API function may assume the staging role"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.api.statement : s.resources if s.sid == "IssueStagingCredentials"]) == toset([aws_iam_role.staging.arn])
    error_message = "the API may assume the staging role"
  }
}

run "without_ingest_url_notifications_are_kept" {
  command = plan

  variables {
    ingest_url = null
  }

  assert {
    condition     = !contains(keys(local.environment), "UPLOAD_INGEST_URL")
    error_message = "no ingest URL: the variable is left unset"
  }
}

run "rejects_an_insecure_ingest_url" {
  command = plan

  variables {
    ingest_url = "http://ingest.example.org"
  }

  expect_failures = [var.ingest_url]
}

run "credentials_are_short_and_the_role_grants_them" {
  command = plan

  assert {
    condition     = aws_iam_role.submitter.max_session_duration == 3600 && module.api.lambda_function_name == "upload-test-api"
    error_message = "the submitter role's maximum session is IAM's floor of one hour"
  }

  assert {
    condition     = local.credentials_duration_environment.UPLOAD_CREDENTIALS_DURATION_SECONDS == "900"
    error_message = "upload credentials last 900 s by default (clients refresh them)"
  }
}

run "areas_expire_after_90_days_by_default_and_the_stage_may_say_otherwise" {
  command = plan

  assert {
    condition     = local.environment.UPLOAD_AREA_TTL_SECONDS == "7776000" && local.environment.UPLOAD_AREA_EXPIRY_WARNING_SECONDS == "604800"
    error_message = "new areas expire after 90 days, warned 7 days before, unless the stage says otherwise"
  }
}

run "a_negative_area_ttl_is_refused" {
  command = plan

  variables {
    area_ttl_seconds = -1
  }

  expect_failures = [var.area_ttl_seconds]
}

run "one_variable_sets_the_credentials_lifetime_and_the_role_s_maximum" {
  command = plan

  variables {
    credentials_duration_seconds = 3600
  }

  assert {
    condition     = aws_iam_role.submitter.max_session_duration == 3600 && local.credentials_duration_environment.UPLOAD_CREDENTIALS_DURATION_SECONDS == "3600"
    error_message = "the API's UPLOAD_CREDENTIALS_DURATION_SECONDS and the role's max_session_duration come from one variable"
  }
}

run "rejects_a_credentials_lifetime_sts_cannot_grant_a_chained_role" {
  command = plan

  variables {
    credentials_duration_seconds = 7200
  }

  expect_failures = [var.credentials_duration_seconds]
}

run "rejects_a_credentials_lifetime_below_sts_s_minimum" {
  command = plan

  variables {
    credentials_duration_seconds = 600
  }

  expect_failures = [var.credentials_duration_seconds]
}

run "without_a_jwt_there_is_no_jwt_key_secret" {
  command = plan

  assert {
    condition     = !contains(keys(aws_secretsmanager_secret.this), "ingest-jwt-key") && local.dispatcher_environment == {} && local.ingest_jwt_key_secret_arn == null
    error_message = "the JWT key's secret exists only when a JWT is configured"
  }
}

run "the_jwt_key_comes_from_a_secret_only_the_dispatcher_reads" {
  command = apply

  variables {
    ingest_jwt = { audience = "https://ingest.example.org/" }
  }

  assert {
    condition     = aws_secretsmanager_secret.this["ingest-jwt-key"].name == "upload-test/ingest-jwt-key"
    error_message = "a JWT brings its own secret, which an operator fills with the service-account key"
  }

  assert {
    condition = local.dispatcher_environment == tomap({
      UPLOAD_INGEST_JWT_KEY_SECRET_ARN = aws_secretsmanager_secret.this["ingest-jwt-key"].arn
      UPLOAD_INGEST_JWT_AUDIENCE       = "https://ingest.example.org/"
    })
    error_message = "the dispatcher gets the key's ARN (never the key) and the audience"
  }

  assert {
    condition     = toset(keys(local.secret_arns)) == toset(["api_keys", "ingest", "secret_key"]) && !contains(keys(local.environment), "UPLOAD_INGEST_JWT_KEY_SECRET_ARN")
    error_message = "no other function is told of the JWT key or may read it (the shared secret list is every function's)"
  }
}

run "checksum_job_gets_the_wired_image" {
  command = plan

  assert {
    condition     = local.checksum_image_environment.UPLOAD_CHECKSUM_JOB_IMAGE == var.checksum_job_image
    error_message = "the checksum worker must submit jobs with the stage's checksum image"
  }
}

run "checksum_job_image_needs_a_tag_or_digest" {
  command = plan

  variables {
    checksum_job_image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/upload-test/checksum"
  }

  expect_failures = [var.checksum_job_image]
}

run "zips_from_the_artifacts_bucket" {
  command = plan

  variables {
    api_zip_path        = null
    checksum_zip_path   = null
    artifacts_bucket    = "upload-test-artifacts"
    api_zip_s3_key      = "lambda/aa/api.zip"
    checksum_zip_s3_key = "lambda/bb/checksum.zip"
  }

  # Every function's module refuses a call with neither a file nor a bucket key, so this plan
  # succeeding means the keys reached the API and every worker.
  assert {
    condition     = length(module.workers.lambda_function_names) == 8
    error_message = "every worker must be planned from the artifacts bucket"
  }
}

run "migrations_run_in_the_apply_before_the_services" {
  command = plan

  assert {
    condition     = length(aws_lambda_invocation.migrate) == 1 && aws_lambda_invocation.migrate[0].triggers.code == var.api_zip_sha256
    error_message = "the apply invokes the migration function again whenever the api zip (which holds the migrations) changes"
  }

  assert {
    condition     = length(local.database_user_environment.api) == 1 && local.database_user_environment.api.UPLOAD_DATABASE_USER == "upload_api" && local.database_user_environment.worker.UPLOAD_DATABASE_USER == "upload_worker"
    error_message = "the API and the workers connect as their own roles"
  }

  assert {
    condition     = toset(keys(aws_iam_role_policy.database_connect)) == toset(["api", "worker-checksum", "worker-checksum_reaper", "worker-deletion", "worker-dispatcher", "worker-reconcile", "worker-scheduler", "worker-validation_sweep", "worker-area_expiry"])
    error_message = "every function that connects gets rds-db:connect for its own role"
  }
}

run "without_iam_authentication_the_services_use_the_rotated_secret" {
  command = plan

  variables {
    database_iam_auth = false
    run_migrations    = false
  }

  assert {
    condition     = local.environment.UPLOAD_DATABASE_SECRET_ARN == module.database.db_instance_master_user_secret_arn && local.secret_arns.database == module.database.db_instance_master_user_secret_arn
    error_message = "without IAM authentication the password comes from the secret RDS manages"
  }

  assert {
    condition     = length(aws_iam_role_policy.database_connect) == 0 && length(local.database_user_environment.api) == 0 && !contains(keys(local.environment), "UPLOAD_DATABASE_IAM_AUTH")
    error_message = "no IAM database access without IAM authentication"
  }

  assert {
    condition     = length(aws_lambda_invocation.migrate) == 0 && output.database_migration == null
    error_message = "run_migrations = false (the emulator) invokes nothing"
  }
}

run "every_function_queue_and_the_database_are_watched" {
  command = plan

  assert {
    condition = alltrue([for alarm in [
      "upload-test-errors-api", "upload-test-errors-checksum", "upload-test-errors-health_report", "upload-test-throttles-dispatcher",
      "upload-test-dead-letters-checksum", "upload-test-oldest-message-validation", "upload-test-api-5xx",
      "upload-test-notifications-failed", "upload-test-database-free-storage",
    ] : contains(output.cloudwatch_metric_alarm_names, alarm)])
    error_message = "the stage's functions, queues, API, notifications and database must each have their alarms"
  }

  assert {
    condition     = length([for a in output.cloudwatch_metric_alarm_names : a if startswith(a, "upload-test-errors-")]) == length(module.workers.lambda_function_names) + 3
    error_message = "every function (api, migrate, health report and each worker) must alarm on errors"
  }
}

run "queues_outlive_six_consumer_timeouts" {
  command = plan

  variables {
    worker_functions = { checksum = { timeout = 600 } }
  }

  # The storage module refuses a visibility timeout under 6x its consumer's: this plan passing is the check.
  assert {
    condition     = local.consumer_timeouts == { checksum = 600, deletion = 900, validation = 900 }
    error_message = "each queue's consumer timeout is its worker function's"
  }
}
