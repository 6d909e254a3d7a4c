variable "bucket_name" {
  description = "Name of the upload bucket (globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.|^\\d+\\.\\d+\\.\\d+\\.\\d+$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens."
  }
}

variable "queue_name_prefix" {
  description = "Prefix of the queue names: queues are `<prefix>-<name>`, their dead-letter queues `<prefix>-<name>-dlq`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,60}$", var.queue_name_prefix))
    error_message = "queue_name_prefix must be 1-60 letters, digits, hyphens or underscores (SQS names are at most 80)."
  }
}

variable "queues" {
  description = "The service's logical queues by name; `checksum` receives the bucket's object-created events. Messages are kept 14 days (SQS's maximum) so an outage of days loses none; the visibility timeout must be at least 6x the consumer's timeout (`consumer_timeout_seconds`), as AWS advises for Lambda consumers."
  type = map(object({
    visibility_timeout_seconds    = optional(number, 5400)
    message_retention_seconds     = optional(number, 1209600)
    max_receive_count             = optional(number, 4)
    dead_letter_retention_seconds = optional(number, 1209600)
  }))
  default = {
    checksum   = {}
    deletion   = {}
    validation = {}
  }

  validation {
    condition     = contains(keys(var.queues), "checksum") && alltrue([for name in keys(var.queues) : can(regex("^[a-z][a-z0-9_]{0,14}$", name))])
    error_message = "queues must include `checksum`, and every queue name must be a short lowercase identifier."
  }

  validation {
    condition = alltrue([for q in values(var.queues) :
      q.visibility_timeout_seconds >= 0 && q.visibility_timeout_seconds <= 43200 &&
      q.message_retention_seconds >= 60 && q.message_retention_seconds <= 1209600 &&
      q.dead_letter_retention_seconds >= 60 && q.dead_letter_retention_seconds <= 1209600 &&
      q.max_receive_count >= 1 && q.max_receive_count <= 1000
    ])
    error_message = "queue settings out of SQS's range: visibility 0-43200 s, retention 60-1209600 s, max_receive_count 1-1000."
  }

  # A message still being worked on must not become visible to a second consumer: AWS advises a
  # visibility timeout of 6x the consuming function's timeout (retries of the batch included).
  validation {
    condition     = alltrue([for name, q in var.queues : q.visibility_timeout_seconds >= 6 * lookup(var.consumer_timeout_seconds, name, 0)])
    error_message = "every queue's visibility_timeout_seconds must be at least 6x its consumer's timeout (consumer_timeout_seconds)."
  }
}

variable "consumer_timeout_seconds" {
  description = "Timeout of the function that consumes each queue, by queue name: the queue's visibility timeout must be at least 6x it."
  type        = map(number)
  default     = { checksum = 900, deletion = 900, validation = 900 }

  validation {
    condition     = alltrue([for t in values(var.consumer_timeout_seconds) : t >= 1 && t <= 900])
    error_message = "consumer_timeout_seconds must be Lambda timeouts: 1-900 s."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which an unfinished multipart upload is aborted and its parts deleted: longer than an upload session lives (UPLOAD_SESSION_TTL_SECONDS, 7 days), whose own sweep aborts it first."
  type        = number
  default     = 8

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && var.abort_incomplete_multipart_upload_days <= 365
    error_message = "abort_incomplete_multipart_upload_days must be between 1 and 365."
  }
}

variable "cors_allowed_origins" {
  description = "Origins (scheme://host[:port], no path) whose browser pages may PUT upload-session parts to presigned URLs of the bucket (CORS; `ETag` exposed); empty: no CORS configuration."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.cors_allowed_origins : can(regex("^https?://[^/*\\s]+$", origin))])
    error_message = "cors_allowed_origins must be origins such as https://upload.example.org (no path, no wildcard)."
  }
}

variable "restrict_dead_letter_sources" {
  description = "Let each dead-letter queue accept messages from its own queue only (emulators without SQS redrive-allow policies turn it off)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key for the bucket and the queues; null: S3-managed and SQS-managed encryption."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket that still holds objects (throwaway stages only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
