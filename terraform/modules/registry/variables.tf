variable "name" {
  description = "Name of the stage's service, e.g. `upload-dev`: repositories are `<name>/<image>`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "images" {
  description = "Images that get a repository: the checksum job, the validator base and each built-in validator (targets of the Dockerfiles, see docs/deployment.md)."
  type        = list(string)
  default     = ["checksum", "validator-base", "validator-fastq", "validator-gzip", "validator-json"]

  validation {
    condition     = length(var.images) > 0 && alltrue([for image in var.images : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", image))])
    error_message = "images must be non-empty lowercase repository name components (letters, digits, '.', '_', '-')."
  }
}

variable "artifacts_bucket_name" {
  description = "Name of the artifacts bucket (globally unique) that holds the Lambda zips by content hash."
  type        = string
}

variable "tagged_images_to_keep" {
  description = "Tagged images kept per repository (the most recent); older ones expire."
  type        = number
  default     = 30

  validation {
    condition     = var.tagged_images_to_keep >= 1 && floor(var.tagged_images_to_keep) == var.tagged_images_to_keep
    error_message = "tagged_images_to_keep must be a whole number, 1 or more."
  }
}

variable "untagged_image_expiry_days" {
  description = "Days after which an untagged image expires."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_image_expiry_days >= 1 && floor(var.untagged_image_expiry_days) == var.untagged_image_expiry_days
    error_message = "untagged_image_expiry_days must be a whole number of days, 1 or more."
  }
}

variable "artifact_expiry_days" {
  description = "Days after which a Lambda zip (current or replaced version) is deleted from the artifacts bucket; must exceed how long a release may stay deployed without a new deploy."
  type        = number
  default     = 365

  validation {
    condition     = var.artifact_expiry_days >= 30 && floor(var.artifact_expiry_days) == var.artifact_expiry_days
    error_message = "artifact_expiry_days must be a whole number of days, 30 or more."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the repositories and the bucket; null: the account's AWS-managed keys (aws/ecr, aws/s3)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete repositories with images and the bucket with zips (throwaway stages only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
