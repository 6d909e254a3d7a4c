variable "name" {
  description = "Name of the stage (e.g. `upload-dev`): names the topic and the alarms, and is the `Stage` dimension of the service's own metrics (UPLOAD_BATCH_NAME_PREFIX)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name))
    error_message = "name must be 1-200 letters, digits, hyphens or underscores."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the topic; its key policy must let CloudWatch and EventBridge use it to publish."
  type        = string
}

variable "alarm_subscriptions" {
  description = "Who hears of alarms: SNS subscriptions of the topic, e.g. `[{ protocol = \"email\", endpoint = \"ops@example.org\" }]`. Email subscriptions must be confirmed by their recipient."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.alarm_subscriptions : contains(["email", "email-json", "https", "http", "sqs", "lambda", "sms", "application", "firehose"], s.protocol)])
    error_message = "alarm_subscriptions: protocol must be one SNS accepts (email, email-json, https, http, sqs, lambda, sms, application, firehose)."
  }
}

variable "queue_names" {
  description = "Work queues by logical name: each is watched for the age of its oldest message."
  type        = map(string)
}

variable "dead_letter_queue_names" {
  description = "Dead-letter queues by logical name of their queue: each alarms as soon as it holds a message."
  type        = map(string)
}

variable "oldest_message_age_threshold_seconds" {
  description = "A work queue whose oldest message is older than this alarms (its consumer is stuck or failing)."
  type        = number
  default     = 3600

  validation {
    condition     = var.oldest_message_age_threshold_seconds >= 60
    error_message = "oldest_message_age_threshold_seconds must be at least 60."
  }
}

variable "lambda_function_names" {
  description = "Functions by logical name: each alarms on any error and any throttle."
  type        = map(string)
}

variable "api_id" {
  description = "ID of the API Gateway HTTP API (its `5xx` metric is watched)."
  type        = string
}

variable "api_5xx_threshold" {
  description = "5xx answers of the API within 5 minutes that raise the alarm (a few retryable 503s are normal under races)."
  type        = number
  default     = 5

  validation {
    condition     = var.api_5xx_threshold >= 1
    error_message = "api_5xx_threshold must be at least 1."
  }
}

variable "batch_job_queue_arns" {
  description = "Batch job queues by kind of job: a job of these queues that ends FAILED is published to the topic."
  type        = map(string)
}

variable "db_instance_identifier" {
  description = "Identifier of the RDS instance whose CPU, free storage and connections are watched."
  type        = string
}

variable "database_thresholds" {
  description = "When the database alarms: CPU percent (15-minute average), free storage in bytes, connections."
  type = object({
    cpu_percent        = optional(number, 80)
    free_storage_bytes = optional(number, 2147483648)
    connections        = optional(number, 80)
  })
  default = {}
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
