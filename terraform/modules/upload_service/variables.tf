variable "name" {
  description = "Name of the stage's service, prefix of every resource name, e.g. `upload-dev`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "bucket_name" {
  description = "Name of the upload bucket (globally unique), e.g. `org-humancellatlas-upload-dev`."
  type        = string
}

variable "api_zip_path" {
  description = "Path of dist/lambda/api.zip, built by `make dist`; null: `api_zip_s3_key` in `artifacts_bucket`."
  type        = string
  default     = null
}

variable "artifacts_bucket" {
  description = "Artifacts bucket (the registry module's) that holds the Lambda zips, uploaded by `python -m deploy` under `api_zip_s3_key` and `checksum_zip_s3_key`; null: the zips are the local paths."
  type        = string
  default     = null
}

variable "api_zip_s3_key" {
  description = "Key of api.zip in `artifacts_bucket` (`lambda/<sha256>/api.zip`); needs `api_zip_sha256`."
  type        = string
  default     = null
}

variable "checksum_zip_s3_key" {
  description = "Key of checksum.zip in `artifacts_bucket` (`lambda/<sha256>/checksum.zip`); needs `checksum_zip_sha256`."
  type        = string
  default     = null
}

variable "api_zip_sha256" {
  description = "Base64 SHA-256 of the api zip; null: computed from the file."
  type        = string
  default     = null
}

variable "checksum_zip_path" {
  description = "Path of dist/lambda/checksum.zip, built by `make dist`; null: `checksum_zip_s3_key` in `artifacts_bucket`."
  type        = string
  default     = null
}

variable "checksum_zip_sha256" {
  description = "Base64 SHA-256 of the checksum zip; null: computed from the file."
  type        = string
  default     = null
}

variable "vpc_cidr_block" {
  description = "IPv4 CIDR of the stage's VPC."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones of the subnets (at least two)."
  type        = list(string)
}

variable "enable_nat_gateway" {
  description = "Give the private subnets outbound internet access (needed to notify Ingest and pull public images)."
  type        = bool
  default     = true
}

variable "database" {
  description = "Sizing and safety of the PostgreSQL instance; omitted fields keep the database module's defaults."
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
  default = {
    checksum   = { max_vcpus = 64 }
    validation = { max_vcpus = 512, root_volume_size_gib = 1024 }
  }
}

variable "batch_create_service_role" {
  description = "Create a Batch service role instead of the account's service-linked role (emulators only)."
  type        = bool
  default     = false
}

variable "worker_functions" {
  description = "Sizing, concurrency and triggers of the worker functions (see the workers module); {}: defaults."
  type = object({
    checksum = optional(object({
      memory_size                        = optional(number, 2048)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }))
    deletion = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }))
    scheduler = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }))
  })
  default = {}
}

variable "api_reserved_concurrent_executions" {
  description = "Concurrency cap of the API function (each instance holds a database connection); -1: none."
  type        = number
  default     = -1
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

variable "ingest_url" {
  description = "Base URL of the ingestion service that receives notifications; null: notifications are kept, not sent."
  type        = string
  default     = null

  validation {
    condition     = var.ingest_url == null || can(regex("^https://", var.ingest_url))
    error_message = "ingest_url must be an https:// URL."
  }
}

variable "ingest_jwt" {
  description = "The seed's service JWT on notifications: its `audience` (and `issuer`, when the key is a bare PEM); the key goes into the `<name>/ingest-jwt-key` secret, which only the dispatcher may read. null: no JWT (and no such secret)."
  type = object({
    audience = string
    issuer   = optional(string)
  })
  default = null

  validation {
    condition     = var.ingest_jwt == null || try(length(var.ingest_jwt.audience) > 0, false)
    error_message = "ingest_jwt.audience must not be empty."
  }
}

variable "credentials_duration_seconds" {
  description = "Lifetime of submitters' upload credentials (UPLOAD_CREDENTIALS_DURATION_SECONDS), also the submitter role's maximum session: 900 (STS's minimum) to 3600 (the API's role assumes the submitter role: role chaining, which AWS caps at one hour). Clients refresh them before they expire."
  type        = number
  default     = 900

  validation {
    condition     = var.credentials_duration_seconds >= 900 && var.credentials_duration_seconds <= 3600 && floor(var.credentials_duration_seconds) == var.credentials_duration_seconds
    error_message = "credentials_duration_seconds must be a whole number of seconds, 900 (STS's minimum) to 3600 (AWS's cap on role chaining)."
  }
}

variable "area_ttl_seconds" {
  description = "A new area expires (and is deleted) this long after its creation unless its creation or PATCH /v2/areas/{uuid} says otherwise (UPLOAD_AREA_TTL_SECONDS); 0: new areas never expire."
  type        = number
  default     = 7776000

  validation {
    condition     = var.area_ttl_seconds >= 0 && floor(var.area_ttl_seconds) == var.area_ttl_seconds
    error_message = "area_ttl_seconds must be a whole number of seconds, 0 or more."
  }
}

variable "area_expiry_warning_seconds" {
  description = "The area_expiring notification goes out this long before an area expires (UPLOAD_AREA_EXPIRY_WARNING_SECONDS); 0: no warning."
  type        = number
  default     = 604800

  validation {
    condition     = var.area_expiry_warning_seconds >= 0 && floor(var.area_expiry_warning_seconds) == var.area_expiry_warning_seconds
    error_message = "area_expiry_warning_seconds must be a whole number of seconds, 0 or more."
  }
}

variable "checksum_inline_max_bytes" {
  description = "Above this size an object is checksummed by a Batch job instead of in the Lambda."
  type        = number
  default     = 10737418240

  validation {
    condition     = var.checksum_inline_max_bytes >= 0 && floor(var.checksum_inline_max_bytes) == var.checksum_inline_max_bytes
    error_message = "checksum_inline_max_bytes must be a whole number of bytes, 0 or more."
  }
}

variable "checksum_job_image" {
  description = "Image (with tag or digest) of the checksum job, built from packages/checksum/Dockerfile and pushed to the registry module's `checksum` repository. Required: without it files above `checksum_inline_max_bytes` go to an image Batch cannot pull."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][A-Za-z0-9._:/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.checksum_job_image))
    error_message = "checksum_job_image must be an image reference with a tag or a digest, e.g. <registry>/upload-dev/checksum:1.2.0-abcdef12."
  }
}

variable "force_destroy_bucket" {
  description = "Let `terraform destroy` delete the bucket with its objects (throwaway stages only)."
  type        = bool
  default     = false
}

variable "restrict_dead_letter_sources" {
  description = "Let each dead-letter queue accept messages from its own queue only; false only for emulators without redrive-allow policies."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can be restored; 0 deletes at once (throwaway stages only)."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or 7-30."
  }
}

variable "kms_deletion_window_days" {
  description = "Days before a scheduled deletion of the stage's KMS key takes effect."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be 7-30."
  }
}

variable "log_retention_days" {
  description = "How long logs (functions, API access, flow logs) are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "validator_images" {
  description = "Validator images callers may run (UPLOAD_VALIDATOR_IMAGES): exact references (`<registry>/<repository>:<tag>`, `<repository>@sha256:<digest>`) or registry/repository prefixes ending in `/`. Required (wire the registry's built-in validators); empty: no validation can run. On AWS Batch an image runs only when it is in Amazon ECR or carries a digest."
  type        = list(string)

  validation {
    condition     = alltrue([for image in var.validator_images : can(regex("^[a-z0-9][A-Za-z0-9._:/@-]{0,511}$", image))])
    error_message = "validator_images entries are image references or prefixes ending in '/' (the service checks the full grammar at start-up)."
  }
}

variable "validator_repository_arns" {
  description = "ECR repositories in which the scheduler looks validator images up (ecr:DescribeImages: a tag is run by the digest it names); null: every repository of this account and region."
  type        = list(string)
  default     = null

  validation {
    condition     = var.validator_repository_arns == null || (length(coalesce(var.validator_repository_arns, [])) > 0 && alltrue([for arn in coalesce(var.validator_repository_arns, []) : can(regex("^arn:[a-z-]+:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", arn))]))
    error_message = "validator_repository_arns must be null or a non-empty list of ECR repository ARNs (arn:<partition>:ecr:<region>:<account>:repository/<name or pattern>)."
  }
}

variable "run_migrations" {
  description = "Invoke the migration function during the apply, after it is updated and before the API and the workers are; false only where Lambda code cannot run (the emulator of terraform/envs/local)."
  type        = bool
  default     = true
}

variable "database_iam_auth" {
  description = "The API and the workers connect as their own roles (upload_api, upload_worker) with IAM database authentication and read no database secret; false: as the master user with its secret."
  type        = bool
  default     = true
}

variable "alarm_subscriptions" {
  description = "SNS subscriptions of the stage's alarm topic (monitoring module), e.g. `[{ protocol = \"email\", endpoint = \"ops@example.org\" }]`."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}

variable "health_report_schedule_expression" {
  description = "When the health report is posted (EventBridge schedule expression)."
  type        = string
  default     = "cron(0 7 * * ? *)"
}
