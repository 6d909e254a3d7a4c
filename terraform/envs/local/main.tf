# Stage `local`: the whole service applied to a local AWS emulator (a moto server), so that
# `terraform apply` itself is tested. State stays on disk; every AWS endpoint is var.aws_endpoint_url.

terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  backend "local" {}
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    apigatewayv2   = var.aws_endpoint_url
    batch          = var.aws_endpoint_url
    cloudwatch     = var.aws_endpoint_url
    cloudwatchlogs = var.aws_endpoint_url
    ec2            = var.aws_endpoint_url
    ecr            = var.aws_endpoint_url
    eventbridge    = var.aws_endpoint_url
    iam            = var.aws_endpoint_url
    kms            = var.aws_endpoint_url
    lambda         = var.aws_endpoint_url
    rds            = var.aws_endpoint_url
    s3             = var.aws_endpoint_url
    secretsmanager = var.aws_endpoint_url
    sns            = var.aws_endpoint_url
    sqs            = var.aws_endpoint_url
    sts            = var.aws_endpoint_url
  }

  default_tags {
    tags = {
      service = "dcp-upload"
      stage   = "local"
    }
  }
}

# The same registry as the other stages (moto keeps repositories, scanning settings and lifecycle
# policies, and the bucket). The functions keep reading local zips: nothing here uploads them.
module "registry" {
  source = "../../modules/registry"

  name                  = "upload-local"
  artifacts_bucket_name = "upload-local-artifacts"
  force_destroy         = true
}

module "upload_service" {
  source = "../../modules/upload_service"

  name               = "upload-local"
  bucket_name        = "upload-local"
  api_zip_path       = var.api_zip_path
  checksum_zip_path  = var.checksum_zip_path
  checksum_job_image = "${module.registry.ecr_repository_urls["checksum"]}:${var.image_tag}"
  validator_images = [
    for image in ["validator-fastq", "validator-gzip", "validator-json"] : "${module.registry.ecr_repository_urls[image]}:${var.image_tag}"
  ]
  validator_repository_arns = [
    for image in ["validator-fastq", "validator-gzip", "validator-json"] : module.registry.ecr_repository_arns[image]
  ]
  vpc_cidr_block     = "10.250.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]

  database = {
    instance_class      = "db.t4g.micro"
    deletion_protection = false
    skip_final_snapshot = true
  }
  batch_compute_environments = {
    checksum   = { max_vcpus = 4 }
    validation = { max_vcpus = 4, root_volume_size_gib = 30 }
  }
  # Emulator gaps (see README): moto needs a Batch service role and has no SQS redrive-allow policy.
  batch_create_service_role    = true
  restrict_dead_letter_sources = false
  run_migrations               = false # the emulator cannot run Lambda code (the migration handler is tested in Python)
  force_destroy_bucket         = true
  secret_recovery_window_days  = 0
  kms_deletion_window_days     = 7
  log_retention_days           = 1

  # Who hears of alarms (the stage's SNS topic); the health report's webhook is a secret (docs/operations.md).
  alarm_subscriptions = var.alarm_subscriptions
}
