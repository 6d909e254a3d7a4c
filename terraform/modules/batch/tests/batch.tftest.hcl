mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  name        = "upload-test"
  vpc_id      = "vpc-1"
  subnet_ids  = ["subnet-1", "subnet-2"]
  bucket_arn  = "arn:aws:s3:::upload-test"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/k"
}

run "one_environment_queue_and_role_per_kind" {
  command = apply

  assert {
    condition     = toset(keys(aws_batch_job_queue.this)) == toset(["checksum", "validation"]) && aws_batch_job_queue.this["checksum"].name == "upload-test-checksum"
    error_message = "one job queue per kind of job"
  }

  assert {
    condition     = aws_batch_compute_environment.this["validation"].compute_resources[0].max_vcpus == 512 && aws_batch_compute_environment.this["checksum"].compute_resources[0].type == "SPOT"
    error_message = "defaults: spot instances, 64/512 vCPUs"
  }

  assert {
    condition     = length(aws_iam_role.service) == 0
    error_message = "the account's service-linked role is used unless a service role is asked for"
  }

  assert {
    condition     = alltrue([for lt in aws_launch_template.this : lt.metadata_options[0].http_tokens == "required" && lt.block_device_mappings[0].ebs[0].encrypted == "true"])
    error_message = "instances must use IMDSv2 and encrypted volumes"
  }
}

run "job_roles_only_read_and_tag" {
  command = plan

  assert {
    condition     = !contains(keys(aws_iam_role_policy.job), "validation") && !contains(keys(data.aws_iam_policy_document.job), "validation") && contains(keys(aws_iam_role.job), "validation")
    error_message = "validation jobs run as a role with no permissions at all (their harness stages files with credentials the API issues)"
  }

  assert {
    condition     = !contains(one([for s in data.aws_iam_policy_document.job["checksum"].statement : s.actions if s.sid == "ObjectsOfTheBucket"]), "s3:PutObject")
    error_message = "checksum jobs may not write objects"
  }
}

run "rejects_missing_kinds" {
  command = plan

  variables {
    compute_environments = { checksum = { max_vcpus = 4 } }
  }

  expect_failures = [var.compute_environments]
}
