variable "aws_endpoint_url" {
  description = "URL of the local AWS emulator, e.g. http://127.0.0.1:5000 (a moto server)."
  type        = string

  validation {
    condition     = can(regex("^http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?/?$", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must point at this machine (http://127.0.0.1:<port>): the local stage never reaches AWS."
  }
}

variable "api_zip_path" {
  description = "Path of dist/lambda/api.zip; null only for `bootstrap`, which plans the registry alone."
  type        = string
  default     = null
}

variable "checksum_zip_path" {
  description = "Path of dist/lambda/checksum.zip; null only for `bootstrap`, which plans the registry alone."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the images in the local registry (nothing is pushed to the emulator)."
  type        = string
  default     = "local"
}

variable "alarm_subscriptions" {
  description = "SNS subscriptions of the stage's alarm topic, e.g. `[{ protocol = \"email\", endpoint = \"ops@example.org\" }]` (email ones must be confirmed by their recipient)."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}
