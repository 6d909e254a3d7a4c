mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  name                  = "upload-test"
  artifacts_bucket_name = "upload-test-artifacts"
}

run "repositories_are_immutable_scanned_encrypted_and_expire_old_images" {
  command = plan

  assert {
    condition     = toset([for r in aws_ecr_repository.this : r.name]) == toset(["upload-test/checksum", "upload-test/validator-base", "upload-test/validator-fastq", "upload-test/validator-gzip", "upload-test/validator-json"])
    error_message = "every image (checksum job, validator base, each built-in validator) must get a repository <name>/<image>"
  }

  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : r.image_tag_mutability == "IMMUTABLE"])
    error_message = "tags must be immutable: a tag names one build forever"
  }

  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : r.image_scanning_configuration[0].scan_on_push])
    error_message = "images must be scanned on push"
  }

  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : r.encryption_configuration[0].encryption_type == "KMS"])
    error_message = "repositories must be encrypted with KMS"
  }

  assert {
    condition     = alltrue([for r in aws_ecr_repository.this : !r.force_delete])
    error_message = "repositories with images must not be deletable by default"
  }

  assert {
    condition = alltrue([for p in aws_ecr_lifecycle_policy.this : (
      jsondecode(p.policy).rules[0].selection.tagStatus == "untagged" &&
      jsondecode(p.policy).rules[0].selection.countNumber == 7 &&
      jsondecode(p.policy).rules[1].selection.tagStatus == "tagged" &&
      jsondecode(p.policy).rules[1].selection.countType == "imageCountMoreThan" &&
      jsondecode(p.policy).rules[1].selection.countNumber == 30
    )])
    error_message = "untagged images must expire after 7 days and only the 30 latest tagged images be kept"
  }

  assert {
    condition     = length(aws_ecr_lifecycle_policy.this) == length(aws_ecr_repository.this)
    error_message = "every repository must have the lifecycle policy"
  }
}

run "artifacts_bucket_is_versioned_encrypted_and_private" {
  command = plan

  assert {
    condition     = aws_s3_bucket.artifacts.bucket == "upload-test-artifacts" && !aws_s3_bucket.artifacts.force_destroy
    error_message = "the artifacts bucket must have the given name and keep its objects on destroy"
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.artifacts.versioning_configuration).status == "Enabled"
    error_message = "the artifacts bucket must be versioned"
  }

  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.artifacts.rule : r.apply_server_side_encryption_by_default[0].sse_algorithm]) == "aws:kms"
    error_message = "the artifacts must be encrypted with KMS"
  }

  assert {
    condition = (aws_s3_bucket_public_access_block.artifacts.block_public_acls && aws_s3_bucket_public_access_block.artifacts.block_public_policy &&
    aws_s3_bucket_public_access_block.artifacts.ignore_public_acls && aws_s3_bucket_public_access_block.artifacts.restrict_public_buckets)
    error_message = "all public access must be blocked"
  }
}

run "a_given_key_encrypts_everything" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/k"
    images      = ["checksum"]
  }

  assert {
    condition     = aws_ecr_repository.this["checksum"].encryption_configuration[0].kms_key == var.kms_key_arn
    error_message = "repositories must use the given key"
  }

  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.artifacts.rule : r.apply_server_side_encryption_by_default[0].kms_master_key_id]) == var.kms_key_arn
    error_message = "the bucket must use the given key"
  }
}

run "image_names_are_validated" {
  command = plan

  variables {
    images = ["Checksum"]
  }

  expect_failures = [var.images]
}
