variable "name" {
  description = "Prefix of the Batch resources' names, e.g. `upload-dev`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC of the compute environments."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the instances run in."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet."
  }
}

variable "compute_environments" {
  description = "One compute environment, job queue and job role per kind of job, by name (checksum, validation)."
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

  validation {
    condition     = toset(keys(var.compute_environments)) == toset(["checksum", "validation"])
    error_message = "compute_environments must have exactly checksum and validation."
  }

  validation {
    condition = alltrue([for ce in values(var.compute_environments) :
      ce.min_vcpus >= 0 && ce.max_vcpus >= ce.min_vcpus && ce.max_vcpus <= 10000 &&
      ce.root_volume_size_gib >= 30 && ce.root_volume_size_gib <= 16384 && length(ce.instance_types) > 0
    ])
    error_message = "each compute environment needs 0 <= min_vcpus <= max_vcpus <= 10000, 30-16384 GiB of disk and an instance type."
  }
}

variable "bucket_arn" {
  description = "ARN of the upload bucket the checksum jobs read."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN."
  }
}

variable "create_service_role" {
  description = "Create a Batch service role instead of using the account's service-linked role (only for emulators that require one)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the bucket's objects (checksum jobs must decrypt them); null: none needed."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
