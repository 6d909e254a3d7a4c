variable "name" {
  description = "Prefix of the functions' names, e.g. `upload-dev` (functions are `<name>-checksum` and so on)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "api_zip_path" {
  description = "Path of dist/lambda/api.zip (deletion, scheduler, dispatcher, validation sweep, area expiry); null: `api_zip_s3_key` in `artifacts_bucket`."
  type        = string
  default     = null
}

variable "artifacts_bucket" {
  description = "Artifacts bucket that holds the zips (with `api_zip_s3_key`, `checksum_zip_s3_key`); null: the zips are the local paths."
  type        = string
  default     = null
}

variable "api_zip_s3_key" {
  description = "Key of api.zip in `artifacts_bucket`."
  type        = string
  default     = null
}

variable "checksum_zip_s3_key" {
  description = "Key of checksum.zip in `artifacts_bucket`."
  type        = string
  default     = null
}

variable "api_zip_sha256" {
  description = "Base64 SHA-256 of the api zip; null: computed from the file."
  type        = string
  default     = null
}

variable "checksum_zip_path" {
  description = "Path of dist/lambda/checksum.zip (checksum worker, reaper and reconciliation); null: `checksum_zip_s3_key` in `artifacts_bucket`."
  type        = string
  default     = null
}

variable "checksum_zip_sha256" {
  description = "Base64 SHA-256 of the checksum zip; null: computed from the file."
  type        = string
  default     = null
}

variable "functions" {
  description = "Sizing, concurrency and trigger of each function; an omitted function or field keeps its default."
  type = object({
    checksum = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }), { memory_size = 2048 })
    deletion = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }), {})
    scheduler = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }), {})
    checksum_reaper = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }), { timeout = 300, schedule_expression = "rate(15 minutes)" })
    dispatcher = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }), { timeout = 300, schedule_expression = "rate(1 minute)" })
    validation_sweep = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }), { timeout = 300, schedule_expression = "rate(10 minutes)" })
    reconcile = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }), { schedule_expression = "rate(1 day)" })
    area_expiry = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrent_executions     = optional(number, -1)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 10)
      schedule_expression                = optional(string, "rate(5 minutes)")
    }), { timeout = 300, schedule_expression = "rate(5 minutes)" })
  })
  default = {}

  validation {
    condition = alltrue([for f in values(var.functions) :
      f.batch_size >= 1 && f.batch_size <= 10000 && f.maximum_concurrency >= 2 && f.maximum_concurrency <= 1000 &&
      f.maximum_batching_window_in_seconds >= 0 && f.maximum_batching_window_in_seconds <= 300 &&
      can(regex("^(rate|cron)\\(.+\\)$", f.schedule_expression))
    ])
    error_message = "batch_size 1-10000, maximum_concurrency 2-1000, batching window 0-300 s, schedule_expression rate(...) or cron(...)."
  }
}

variable "environment_variables" {
  description = "Environment shared by every function (non-secret wiring and secret ARNs)."
  type        = map(string)
  default     = {}
}

variable "function_environment_variables" {
  description = "Extra environment per function name, merged over environment_variables."
  type        = map(map(string))
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.function_environment_variables) : contains(["checksum", "deletion", "scheduler", "checksum_reaper", "dispatcher", "validation_sweep", "reconcile", "area_expiry"], name)])
    error_message = "function_environment_variables keys must be function names."
  }
}

variable "bucket_arn" {
  description = "ARN of the upload bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN."
  }
}

variable "queue_arns" {
  description = "ARN of each queue by logical name: checksum, deletion, validation."
  type        = map(string)

  validation {
    condition     = alltrue([for name in ["checksum", "deletion", "validation"] : contains(keys(var.queue_arns), name)])
    error_message = "queue_arns must have checksum, deletion and validation."
  }
}

variable "checksum_job_queue_arn" {
  description = "Batch job queue for checksum jobs."
  type        = string
}

variable "validation_job_queue_arn" {
  description = "Batch job queue for validation jobs."
  type        = string
}

variable "checksum_job_role_arn" {
  description = "Role that checksum jobs run as (the only role the checksum worker may pass)."
  type        = string
}

variable "validation_job_role_arn" {
  description = "Role that validation jobs run as (the only role the scheduler may pass)."
  type        = string
}

variable "job_definition_name_prefix" {
  description = "Prefix of the Batch job definitions the functions register and submit, e.g. `upload-dev-`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{3,100}$", var.job_definition_name_prefix))
    error_message = "job_definition_name_prefix must be 3-100 letters, digits, hyphens or underscores."
  }
}

variable "secret_arns" {
  description = "Secrets Manager secrets the functions may read (database credentials, keys)."
  type        = list(string)

  validation {
    condition     = length(var.secret_arns) > 0
    error_message = "secret_arns must name at least one secret (the database credentials)."
  }
}

variable "dispatcher_secret_arns" {
  description = "Secrets Manager secrets only the dispatcher may read (the notification JWT's key); [] for none."
  type        = list(string)
  default     = []
}

variable "vpc_config" {
  description = "Subnets and security groups of the functions (they reach the private database); null: outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "log_retention_days" {
  description = "How long the functions' logs are kept."
  type        = number
  default     = 90
}

variable "kms_key_arn" {
  description = "KMS key of the service (environment, logs, queues, secrets); null: AWS-managed keys."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
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
