variable "function_name" {
  description = "Name of the function (also names its log group and prefixes its role)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1-64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "What the function does."
  type        = string
  default     = ""
}

variable "filename" {
  description = "Path of the deployment zip built by `make dist`; null: the zip is `s3_bucket`/`s3_key`."
  type        = string
  default     = null

  validation {
    condition     = var.filename == null || endswith(coalesce(var.filename, "x"), ".zip")
    error_message = "filename must be the path of a .zip file."
  }
}

variable "s3_bucket" {
  description = "Artifacts bucket that holds the deployment zip (uploaded by `python -m deploy`); null: the zip is `filename`."
  type        = string
  default     = null
}

variable "s3_key" {
  description = "Key of the deployment zip in `s3_bucket` (`lambda/<sha256>/<name>.zip`)."
  type        = string
  default     = null

  validation {
    condition     = (var.s3_key == null) == (var.s3_bucket == null) && (var.s3_key == null) != (var.filename == null)
    error_message = "give either filename, or s3_bucket and s3_key (not both)."
  }
}

variable "source_code_hash" {
  description = "Base64 SHA-256 of the zip; null: computed from `filename` (required with `s3_key`)."
  type        = string
  default     = null

  validation {
    condition     = var.source_code_hash != null || var.s3_key == null
    error_message = "source_code_hash is required with s3_key: Terraform cannot read the zip in the bucket."
  }
}

variable "handler" {
  description = "Entry point as `package.module.function`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", var.handler))
    error_message = "handler must be a dotted Python path such as upload_api.lambda_handlers.api_handler."
  }
}

variable "runtime" {
  description = "Lambda runtime; the zips are built for CPython 3.11."
  type        = string
  default     = "python3.11"

  validation {
    condition     = var.runtime == "python3.11"
    error_message = "runtime must be python3.11: the zips' binary wheels are built for it."
  }
}

variable "memory_size" {
  description = "Memory in MiB (CPU scales with it)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MiB."
  }
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "environment_variables" {
  description = "Environment of the function: non-secret wiring and secret ARNs only, never secret values."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.environment_variables) : can(regex("^[A-Za-z][A-Za-z0-9_]*$", name))])
    error_message = "environment variable names must be letters, digits and underscores, starting with a letter."
  }
}

variable "attach_policy" {
  description = "Attach policy_json to the function's role (a flag, so that the count is known at plan time)."
  type        = bool
  default     = false
}

variable "policy_json" {
  description = "IAM policy document (JSON) with the function's own permissions; used when attach_policy is true."
  type        = string
  default     = null

  validation {
    condition     = var.policy_json == null || can(jsondecode(var.policy_json))
    error_message = "policy_json must be a JSON policy document."
  }
}

variable "vpc_config" {
  description = "Subnets and security groups to run the function in; null: outside any VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.vpc_config == null || (length(try(var.vpc_config.subnet_ids, [])) > 0 && length(try(var.vpc_config.security_group_ids, [])) > 0)
    error_message = "vpc_config needs at least one subnet and one security group."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved (and capped) for the function; -1: unreserved."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions >= -1
    error_message = "reserved_concurrent_executions must be -1 or more."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "log_retention_days" {
  description = "How long the function's logs are kept."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the environment variables and the log group; null: AWS-managed keys."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
