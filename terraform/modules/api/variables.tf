variable "name" {
  description = "Name of the HTTP API and of its Lambda function, e.g. `upload-dev-api`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.name))
    error_message = "name must be 2-63 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "filename" {
  description = "Path of the API's deployment zip (dist/lambda/api.zip); null: the zip is `s3_bucket`/`s3_key`."
  type        = string
  default     = null
}

variable "s3_bucket" {
  description = "Artifacts bucket that holds the API's zip; null: the zip is `filename`."
  type        = string
  default     = null
}

variable "s3_key" {
  description = "Key of the API's zip in `s3_bucket`."
  type        = string
  default     = null
}

variable "source_code_hash" {
  description = "Base64 SHA-256 of the zip; null: computed from `filename` (required with `s3_key`)."
  type        = string
  default     = null
}

variable "handler" {
  description = "Entry point of the API function."
  type        = string
  default     = "upload_api.lambda_handlers.api_handler"
}

variable "memory_size" {
  description = "Memory of the API function in MiB."
  type        = number
  default     = 1024
}

variable "timeout" {
  description = "Timeout of the API function in seconds, below API Gateway's 30-second integration limit."
  type        = number
  default     = 29

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 29
    error_message = "timeout must be 1-29 s: API Gateway stops waiting after 30 s anyway."
  }
}

variable "environment_variables" {
  description = "Environment of the API function (non-secret wiring and secret ARNs)."
  type        = map(string)
  default     = {}
}

variable "public_url_environment_variable" {
  description = "Environment variable that receives the API's own base URL; null: none."
  type        = string
  default     = "UPLOAD_PUBLIC_URL"
}

variable "attach_policy" {
  description = "Attach policy_json to the function's role."
  type        = bool
  default     = false
}

variable "policy_json" {
  description = "IAM policy document (JSON) with the API function's permissions."
  type        = string
  default     = null
}

variable "vpc_config" {
  description = "Subnets and security groups of the API function; null: outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

variable "reserved_concurrent_executions" {
  description = "Concurrency cap of the API function (protects the database's connection limit); -1: none."
  type        = number
  default     = -1
}

variable "throttling_burst_limit" {
  description = "API Gateway burst limit for the default route."
  type        = number
  default     = 200

  validation {
    condition     = var.throttling_burst_limit >= 1
    error_message = "throttling_burst_limit must be positive."
  }
}

variable "throttling_rate_limit" {
  description = "API Gateway steady-state requests per second for the default route."
  type        = number
  default     = 100

  validation {
    condition     = var.throttling_rate_limit >= 1
    error_message = "throttling_rate_limit must be positive."
  }
}

variable "open_route_throttling" {
  description = "API Gateway throttling (requests per second, burst) of each unauthenticated endpoint, overriding the defaults by name: credentials, notify_uploaded, files_info, list_files, checksum_counts, validation_counts."
  type = map(object({
    rate_limit  = number
    burst_limit = number
  }))
  default = {}

  validation {
    condition = alltrue([for name, limits in var.open_route_throttling :
      contains(["credentials", "notify_uploaded", "files_info", "list_files", "checksum_counts", "validation_counts"], name) &&
      limits.rate_limit >= 1 && limits.burst_limit >= 1
    ])
    error_message = "open_route_throttling keys must be credentials, notify_uploaded, files_info, list_files, checksum_counts or validation_counts, with rate_limit and burst_limit of at least 1."
  }
}

variable "domain_name" {
  description = "Custom domain of the API (e.g. `upload.dev.data.humancellatlas.org`); null: the execute-api URL."
  type        = string
  default     = null
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name, in the API's region."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "log_retention_days" {
  description = "How long function and access logs are kept."
  type        = number
  default     = 90
}

variable "kms_key_arn" {
  description = "KMS key for logs and the function's environment; null: AWS-managed keys."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
