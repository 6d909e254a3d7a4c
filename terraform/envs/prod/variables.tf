variable "region" {
  description = "AWS region of the stage."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Name of the upload bucket."
  type        = string
}

variable "artifacts_bucket_name" {
  description = "Name of the artifacts bucket (Lambda zips by content hash)."
  type        = string
}

variable "image_tags" {
  description = "Tag of each image in the stage's repositories, by image: `<version of its package>-<commit>` (passed by `python -m deploy`)."
  type        = map(string)

  validation {
    condition     = alltrue([for tag in values(var.image_tags) : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", tag))])
    error_message = "image_tags values must be Docker tags: letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-'."
  }
}

variable "api_zip_s3_key" {
  description = "Key of api.zip in the artifacts bucket, `lambda/<sha256>/api.zip` (passed by `python -m deploy`; null only for `bootstrap`, which plans the registry alone)."
  type        = string
  default     = null
}

variable "api_zip_sha256" {
  description = "Base64 SHA-256 of api.zip (passed by `python -m deploy`; null only for `bootstrap`, which plans the registry alone)."
  type        = string
  default     = null
}

variable "checksum_zip_s3_key" {
  description = "Key of checksum.zip in the artifacts bucket, `lambda/<sha256>/checksum.zip` (passed by `python -m deploy`; null only for `bootstrap`, which plans the registry alone)."
  type        = string
  default     = null
}

variable "checksum_zip_sha256" {
  description = "Base64 SHA-256 of checksum.zip (passed by `python -m deploy`; null only for `bootstrap`, which plans the registry alone)."
  type        = string
  default     = null
}

variable "vpc_cidr_block" {
  description = "IPv4 CIDR of the stage's VPC."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones of the subnets."
  type        = list(string)
}

variable "database" {
  description = "Database sizing and safety (see the upload_service module)."
  type = object({
    engine_version                  = optional(string, "16")
    instance_class                  = optional(string, "db.t4g.medium")
    allocated_storage_gib           = optional(number, 20)
    max_allocated_storage_gib       = optional(number, 100)
    multi_az                        = optional(bool, false)
    backup_retention_days           = optional(number, 7)
    deletion_protection             = optional(bool, true)
    skip_final_snapshot             = optional(bool, false)
    extra_client_security_group_ids = optional(list(string), [])
  })
  default = {}
}

variable "batch_compute_environments" {
  description = "Checksum and validation compute environments (see the batch module)."
  type = map(object({
    instance_types       = optional(list(string), ["m5"])
    min_vcpus            = optional(number, 0)
    max_vcpus            = number
    spot                 = optional(bool, true)
    root_volume_size_gib = optional(number, 100)
  }))
}

variable "ingest_url" {
  description = "Base URL of the ingestion service that receives notifications."
  type        = string
  default     = null
}

variable "api_domain_name" {
  description = "Custom domain of the API; null: the execute-api URL."
  type        = string
  default     = null
}

variable "api_certificate_arn" {
  description = "ACM certificate of api_domain_name."
  type        = string
  default     = null
}

variable "validator_images" {
  description = "Validator images callers may run besides the stage's built-in validators (UPLOAD_VALIDATOR_IMAGES): exact references or registry/repository prefixes ending in `/`."
  type        = list(string)
  default     = []
}

variable "validator_repository_arns" {
  description = "ECR repositories of the extra validator_images that the scheduler may look up, besides the built-in validators' repositories."
  type        = list(string)
  default     = []
}

variable "alarm_subscriptions" {
  description = "SNS subscriptions of the stage's alarm topic, e.g. `[{ protocol = \"email\", endpoint = \"ops@example.org\" }]` (email ones must be confirmed by their recipient)."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}
