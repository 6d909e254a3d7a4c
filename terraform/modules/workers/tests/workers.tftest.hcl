mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  name                = "upload-test"
  api_zip_path        = "dist/lambda/api.zip"
  api_zip_sha256      = "YXBp"
  checksum_zip_path   = "dist/lambda/checksum.zip"
  checksum_zip_sha256 = "Y2hlY2tzdW0="
  environment_variables = {
    UPLOAD_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/upload-test"
  }
  bucket_arn = "arn:aws:s3:::upload-test"
  queue_arns = {
    checksum   = "arn:aws:sqs:us-east-1:123456789012:upload-test-checksum"
    deletion   = "arn:aws:sqs:us-east-1:123456789012:upload-test-deletion"
    validation = "arn:aws:sqs:us-east-1:123456789012:upload-test-validation"
  }
  checksum_job_queue_arn     = "arn:aws:batch:us-east-1:123456789012:job-queue/upload-test-checksum"
  validation_job_queue_arn   = "arn:aws:batch:us-east-1:123456789012:job-queue/upload-test-validation"
  checksum_job_role_arn      = "arn:aws:iam::123456789012:role/checksum-job"
  validation_job_role_arn    = "arn:aws:iam::123456789012:role/validation-job"
  job_definition_name_prefix = "upload-test-"
  secret_arns                = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:db"]
}

run "functions_handlers_and_artifacts" {
  command = plan

  assert {
    condition = { for name, f in module.function : name => f.lambda_function_name } == {
      checksum         = "upload-test-checksum"
      deletion         = "upload-test-deletion"
      scheduler        = "upload-test-scheduler"
      checksum_reaper  = "upload-test-checksum-reaper"
      dispatcher       = "upload-test-dispatcher"
      validation_sweep = "upload-test-validation-sweep"
      reconcile        = "upload-test-reconcile"
      area_expiry      = "upload-test-area-expiry"
    }
    error_message = "one function per worker, named <name>-<worker>"
  }

  assert {
    condition = { for name, f in local.functions : name => f.handler } == {
      checksum         = "upload_checksum.lambda_handlers.handler"
      deletion         = "upload_api.lambda_handlers.deletion_handler"
      scheduler        = "upload_api.lambda_handlers.scheduler_handler"
      checksum_reaper  = "upload_checksum.lambda_handlers.reaper_handler"
      dispatcher       = "upload_api.lambda_handlers.dispatcher_handler"
      validation_sweep = "upload_api.lambda_handlers.validation_sweep_handler"
      reconcile        = "upload_checksum.lambda_handlers.reconcile_handler"
      area_expiry      = "upload_api.lambda_handlers.area_expiry_handler"
    }
    error_message = "handlers must be the packages' entry points"
  }

  assert {
    condition     = local.artifacts[local.functions.checksum.artifact].filename == var.checksum_zip_path && local.artifacts[local.functions.reconcile.artifact].filename == var.checksum_zip_path && local.artifacts[local.functions.deletion.artifact].filename == var.api_zip_path
    error_message = "checksum functions run from checksum.zip, the api package's workers from api.zip"
  }
}

run "queues_feed_functions_with_partial_batch_failures" {
  command = apply

  assert {
    condition     = { for name, m in aws_lambda_event_source_mapping.this : name => m.event_source_arn } == { checksum = var.queue_arns.checksum, deletion = var.queue_arns.deletion, scheduler = var.queue_arns.validation }
    error_message = "checksum, deletion and scheduler consume their queues"
  }

  assert {
    condition     = alltrue([for m in aws_lambda_event_source_mapping.this : m.function_response_types == toset(["ReportBatchItemFailures"])])
    error_message = "every mapping must report partial batch failures"
  }

  assert {
    condition     = { for name, r in aws_cloudwatch_event_rule.schedule : name => r.schedule_expression } == { checksum_reaper = "rate(15 minutes)", dispatcher = "rate(1 minute)", validation_sweep = "rate(10 minutes)", reconcile = "rate(1 day)", area_expiry = "rate(5 minutes)" }
    error_message = "reaper, dispatcher, sweeps and reconciliation run on their schedules"
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.area_expiry.statement : { actions = s.actions, resources = s.resources } if s.sid == "QueueDeletions"] == [{ actions = toset(["sqs:SendMessage"]), resources = toset([var.queue_arns["deletion"]]) }] && length([for s in data.aws_iam_policy_document.area_expiry.statement : s if s.sid != "QueueDeletions" && s.sid != "ReadServiceSecrets" && s.sid != "UseServiceKey"]) == 0
    error_message = "the area expiry sweep may only send to the deletion queue (and read the service secrets)"
  }
}

run "passes_only_its_own_job_role" {
  command = plan

  assert {
    condition     = one([for s in data.aws_iam_policy_document.checksum.statement : s.resources if s.sid == "PassChecksumJobRole"]) == toset([var.checksum_job_role_arn])
    error_message = "the checksum worker may pass the checksum job role only"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scheduler.statement : s.resources if s.sid == "PassValidationJobRole"]) == toset([var.validation_job_role_arn])
    error_message = "the scheduler may pass the validation job role only"
  }

  assert {
    condition = alltrue([for doc in [data.aws_iam_policy_document.checksum, data.aws_iam_policy_document.deletion, data.aws_iam_policy_document.scheduler] :
      alltrue([for s in doc.statement : !contains(s.resources, "*") if !contains(["DescribeJobs", "FindJobDefinitions"], s.sid)])
    ])
    error_message = "only Batch's describe calls may use a wildcard resource"
  }

  assert {
    condition = alltrue([for doc in [data.aws_iam_policy_document.checksum_reaper, data.aws_iam_policy_document.validation_sweep] :
      one([for s in doc.statement : s.actions if s.resources == toset(["*"])]) == toset(["batch:DescribeJobs"])
    ])
    error_message = "the reapers' only wildcard grant is DescribeJobs (no ListJobs, DescribeJobQueues: no code calls them)"
  }

  assert {
    condition     = !anytrue([for a in flatten([for doc in [data.aws_iam_policy_document.checksum, data.aws_iam_policy_document.deletion] : [for s in doc.statement : s.actions]]) : strcontains(a, "Version")])
    error_message = "no request of the service names an object version: no *Version* grant"
  }
}

run "scheduler_may_only_describe_validator_images_in_ecr" {
  command = plan

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scheduler.statement : s.actions if s.sid == "ResolveValidatorImages"]) == toset(["ecr:DescribeImages"])
    error_message = "the scheduler looks validator images up (DescribeImages) and does nothing else in ECR"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scheduler.statement : s.resources if s.sid == "ResolveValidatorImages"]) == toset(["arn:aws:ecr:us-east-1:123456789012:repository/*"])
    error_message = "without a list, the repositories of this account and region only"
  }

  assert {
    condition     = length(flatten([for doc in [data.aws_iam_policy_document.checksum, data.aws_iam_policy_document.deletion, data.aws_iam_policy_document.validation_sweep, data.aws_iam_policy_document.dispatcher] : [for s in doc.statement : s.sid if s.sid == "ResolveValidatorImages"]])) == 0
    error_message = "only the scheduler resolves validator images"
  }
}

run "validator_repositories_can_be_named" {
  command = plan

  variables {
    validator_repository_arns = ["arn:aws:ecr:us-east-1:123456789012:repository/dcp-upload-validators/*"]
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.scheduler.statement : s.resources if s.sid == "ResolveValidatorImages"]) == toset(var.validator_repository_arns)
    error_message = "a list of repositories replaces the default"
  }
}

run "rejects_a_validator_repository_that_is_not_an_ecr_arn" {
  command = plan

  variables {
    validator_repository_arns = ["arn:aws:s3:::upload-test"]
  }

  expect_failures = [var.validator_repository_arns]
}

run "reconcile_lists_reads_and_queues_only" {
  command = plan

  assert {
    condition     = toset([for s in data.aws_iam_policy_document.reconcile.statement : s.sid]) == toset(["ListBucket", "ReadObjects", "QueueChecksums"]) && toset(flatten([for s in data.aws_iam_policy_document.reconcile.statement : s.actions])) == toset(["s3:ListBucket", "s3:GetObject", "sqs:SendMessage"])
    error_message = "reconciliation lists the bucket, reads objects and queues checksums, nothing more"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.reconcile.statement : s.resources if s.sid == "QueueChecksums"]) == toset([var.queue_arns.checksum])
    error_message = "reconciliation sends to the checksum queue only"
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.reconcile.statement : !contains(s.resources, "*")])
    error_message = "reconciliation needs no wildcard resource"
  }
}

run "rejects_an_unknown_function_in_extra_environment" {
  command = plan

  variables {
    function_environment_variables = { nope = { A = "b" } }
  }

  expect_failures = [var.function_environment_variables]
}

run "only_the_dispatcher_reads_the_notification_secrets" {
  command = plan

  variables {
    dispatcher_secret_arns = ["arn:aws:secretsmanager:us-east-1:123456789012:secret:upload-test/ingest-jwt-key"]
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.dispatcher.statement : s.resources if s.sid == "ReadNotificationSecrets"]) == toset(var.dispatcher_secret_arns)
    error_message = "the dispatcher (it sends notifications) may read the JWT key"
  }

  assert {
    condition = length(flatten([for doc in [data.aws_iam_policy_document.checksum, data.aws_iam_policy_document.deletion, data.aws_iam_policy_document.scheduler, data.aws_iam_policy_document.checksum_reaper, data.aws_iam_policy_document.validation_sweep, data.aws_iam_policy_document.reconcile, data.aws_iam_policy_document.common] :
    [for s in doc.statement : s.resources if contains(tolist(s.resources), var.dispatcher_secret_arns[0])]])) == 0
    error_message = "no other function may read the notification secrets"
  }
}

run "without_notification_secrets_the_dispatcher_reads_only_the_shared_ones" {
  command = plan

  assert {
    condition     = length([for s in data.aws_iam_policy_document.dispatcher.statement : s if s.sid == "ReadNotificationSecrets"]) == 0
    error_message = "no statement for secrets that do not exist"
  }
}
