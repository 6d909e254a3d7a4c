mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  bucket_name       = "upload-test-bucket"
  queue_name_prefix = "upload-test"
  kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/k"
}

run "bucket_is_private_encrypted_and_aborts_multipart" {
  command = plan

  assert {
    condition = (aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy &&
    aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets)
    error_message = "all public access must be blocked"
  }

  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.this.rule : r.apply_server_side_encryption_by_default[0].sse_algorithm]) == "aws:kms"
    error_message = "objects must be encrypted with the given KMS key"
  }

  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.abort_incomplete_multipart_upload[0].days_after_initiation]) == 8
    error_message = "incomplete multipart uploads must be aborted, after upload sessions expire (7 days)"
  }

  assert {
    condition     = length(aws_s3_bucket_cors_configuration.this) == 0
    error_message = "no CORS configuration unless origins are given"
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy == false
    error_message = "a bucket with objects must not be destroyable by default"
  }
}

run "queues_have_dead_letter_queues" {
  command = apply

  assert {
    condition     = toset([for q in aws_sqs_queue.this : q.name]) == toset(["upload-test-checksum", "upload-test-deletion", "upload-test-validation"])
    error_message = "queues must be named <prefix>-<name>"
  }

  assert {
    condition     = toset([for q in aws_sqs_queue.dlq : q.name]) == toset(["upload-test-checksum-dlq", "upload-test-deletion-dlq", "upload-test-validation-dlq"])
    error_message = "dead-letter queues must be named <prefix>-<name>-dlq"
  }

  assert {
    condition     = alltrue([for name, q in aws_sqs_queue.this : jsondecode(q.redrive_policy).maxReceiveCount == 4 && jsondecode(q.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq[name].arn])
    error_message = "every queue must send a message to its dead-letter queue after 4 receives"
  }

  assert {
    condition     = alltrue([for q in aws_sqs_queue.this : q.kms_master_key_id == var.kms_key_arn])
    error_message = "queues must be encrypted with the given key"
  }

  assert {
    condition     = length(aws_sqs_queue_redrive_allow_policy.dlq) == 3
    error_message = "dead-letter queues accept only their own queue by default"
  }

  assert {
    condition = (one(aws_s3_bucket_notification.this.queue).queue_arn == aws_sqs_queue.this["checksum"].arn &&
    toset(one(aws_s3_bucket_notification.this.queue).events) == toset(["s3:ObjectCreated:Put", "s3:ObjectCreated:Post", "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload"]))
    error_message = "object-created events must go to the checksum queue"
  }

  assert {
    condition     = output.sqs_queue_url_prefix == "https://sqs.us-east-1.amazonaws.com/123456789012/mock"
    error_message = "the URL prefix is the checksum queue's URL without its `-checksum` suffix"
  }
}

run "messages_are_kept_14_days_and_outlive_six_consumer_timeouts" {
  command = apply

  assert {
    condition     = alltrue([for q in aws_sqs_queue.this : q.message_retention_seconds == 1209600]) && alltrue([for q in aws_sqs_queue.dlq : q.message_retention_seconds == 1209600])
    error_message = "queues and dead-letter queues must keep messages 14 days"
  }

  assert {
    condition     = alltrue([for name, q in aws_sqs_queue.this : q.visibility_timeout_seconds >= 6 * var.consumer_timeout_seconds[name]])
    error_message = "each queue's visibility timeout must be at least 6x its consumer's timeout"
  }
}

run "rejects_a_visibility_under_six_consumer_timeouts" {
  command = plan

  variables {
    queues                   = { checksum = { visibility_timeout_seconds = 960 } }
    consumer_timeout_seconds = { checksum = 900 }
  }

  expect_failures = [var.queues]
}

run "checksum_queue_accepts_only_the_bucket" {
  command = plan

  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.checksum_queue.statement :
      s.actions == toset(["sqs:SendMessage"]) && one([for p in s.principals : p.identifiers]) == toset(["s3.amazonaws.com"]) &&
    anytrue([for c in s.condition : c.variable == "aws:SourceArn"])])
    error_message = "only S3, for the upload bucket, may send to the checksum queue"
  }
}

run "rejects_queues_without_checksum" {
  command = plan

  variables {
    queues = { deletion = {} }
  }

  expect_failures = [var.queues]
}

run "rejects_an_invalid_bucket_name" {
  command = plan

  variables {
    bucket_name = "Upload_Bucket"
  }

  expect_failures = [var.bucket_name]
}

run "cors_lets_the_given_origins_put_parts_and_read_their_etag" {
  command = plan

  variables {
    cors_allowed_origins = ["https://upload.example.org"]
  }

  assert {
    condition = (one(aws_s3_bucket_cors_configuration.this[0].cors_rule).allowed_methods == toset(["PUT"]) &&
      one(aws_s3_bucket_cors_configuration.this[0].cors_rule).allowed_origins == toset(["https://upload.example.org"]) &&
    one(aws_s3_bucket_cors_configuration.this[0].cors_rule).expose_headers == toset(["ETag"]))
    error_message = "only PUT, from the given origins, exposing ETag"
  }
}

run "rejects_a_cors_origin_with_a_path_or_wildcard" {
  command = plan

  variables {
    cors_allowed_origins = ["https://upload.example.org/page", "*"]
  }

  expect_failures = [var.cors_allowed_origins]
}
