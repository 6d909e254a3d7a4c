# Stage `dev`: state in S3 (locked with S3's conditional writes), one call of the service module.
# Non-secret settings are in terraform.tfvars; the zips' paths come from the deploy command.

terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }

  backend "s3" {
    bucket       = "org-humancellatlas-upload-infra"
    key          = "terraform/envs/dev/terraform.tfstate"
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
      stage   = "dev"
    }
  }
}

module "upload_service" {
  source = "../../modules/upload_service"

  name                       = "upload-dev"
  bucket_name                = var.bucket_name
  api_zip_path               = var.api_zip_path
  checksum_zip_path          = var.checksum_zip_path
  vpc_cidr_block             = var.vpc_cidr_block
  availability_zones         = var.availability_zones
  database                   = var.database
  batch_compute_environments = var.batch_compute_environments
  ingest_url                 = var.ingest_url
  api_domain_name            = var.api_domain_name
  api_certificate_arn        = var.api_certificate_arn
  validator_images           = var.validator_images
}
