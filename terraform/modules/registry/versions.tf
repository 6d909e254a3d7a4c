terraform {
  # 1.9: mock providers and override blocks in `terraform test`, cross-variable validation.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 6.0"
    }
  }
}
