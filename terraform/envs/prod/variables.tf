variable "region" {
  description = "AWS region of the stage."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Name of the upload bucket."
  type        = string
}

variable "api_zip_path" {
  description = "Path of dist/lambda/api.zip (passed by `python -m deploy`)."
  type        = string
}

variable "checksum_zip_path" {
  description = "Path of dist/lambda/checksum.zip (passed by `python -m deploy`)."
  type        = string
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
  description = "Validator images callers may run (UPLOAD_VALIDATOR_IMAGES): exact references or registry/repository prefixes ending in `/`; empty: none."
  type        = list(string)
  default     = []
}
