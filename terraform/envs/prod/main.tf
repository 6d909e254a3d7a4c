# Stage `prod`: state in S3 (locked with S3's conditional writes), one call of the service module.
# Non-secret settings are in terraform.tfvars; the zips' keys and the image tag come from the deploy command.

terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  backend "s3" {
    bucket       = "org-humancellatlas-upload-prod-infra"
    key          = "terraform/envs/prod/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      service = "dcp-upload"
      stage   = "prod"
    }
  }
}

# Image repositories and the artifacts bucket: applied alone first on a stage's first deploy
# (`python -m deploy prod bootstrap`), since images and zips are pushed there before the plan.
module "registry" {
  source = "../../modules/registry"

  name                  = "upload-prod"
  artifacts_bucket_name = var.artifacts_bucket_name
}

locals {
  # The pipeline pushes each image tagged `<version of its package>-<commit>` (var.image_tags) before it plans.
  images             = { for image, url in module.registry.ecr_repository_urls : image => "${url}:${var.image_tags[image]}" }
  builtin_validators = ["validator-fastq", "validator-gzip", "validator-json"]
}

module "upload_service" {
  source = "../../modules/upload_service"

  name        = "upload-prod"
  bucket_name = var.bucket_name

  # The zips are in the artifacts bucket under their content hash (uploaded by `python -m deploy`).
  artifacts_bucket    = module.registry.s3_artifacts_bucket_id
  api_zip_s3_key      = var.api_zip_s3_key
  api_zip_sha256      = var.api_zip_sha256
  checksum_zip_s3_key = var.checksum_zip_s3_key
  checksum_zip_sha256 = var.checksum_zip_sha256

  # Every image Batch runs comes from this stage's registry (a test checks every stage wires them).
  checksum_job_image        = local.images["checksum"]
  validator_images          = concat([for image in local.builtin_validators : local.images[image]], var.validator_images)
  validator_repository_arns = concat([for image in local.builtin_validators : module.registry.ecr_repository_arns[image]], var.validator_repository_arns)

  vpc_cidr_block             = var.vpc_cidr_block
  availability_zones         = var.availability_zones
  database                   = var.database
  batch_compute_environments = var.batch_compute_environments
  ingest_url                 = var.ingest_url
  api_domain_name            = var.api_domain_name
  api_certificate_arn        = var.api_certificate_arn

  # Who hears of alarms (the stage's SNS topic); the health report's webhook is a secret (docs/operations.md).
  alarm_subscriptions = var.alarm_subscriptions
}
