# AWS Batch for the jobs that do not fit in a Lambda: one managed EC2 compute environment and one job
# queue per kind of job (checksum, validation), and one role per kind that the jobs run as. Job
# definitions are registered at run time by the functions (one per image, named with
# `job_definition_name_prefix`), as validators are images chosen by the caller; the Python that registers
# and submits them (upload_common.jobs.batch) gives each a retry strategy that retries host terminations
# (Spot interruptions) and never application errors.

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
}

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-batch-"
  description = "Batch instances of ${var.name}: outbound only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-batch" })

  lifecycle {
    create_before_destroy = true
  }
}

# Jobs call the API back over HTTPS and pull images and objects over HTTPS; nothing else goes out.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to AWS APIs, image registries and the service API"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

data "aws_iam_policy_document" "instance_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name_prefix        = "${substr(var.name, 0, 24)}-batch-ec2-"
  assume_role_policy = data.aws_iam_policy_document.instance_assume.json

  tags = var.tags
}

# The ECS agent's policy is AWS-managed and follows the agent's releases; restating it by hand would drift.
resource "aws_iam_role_policy_attachment" "instance" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  name_prefix = "${substr(var.name, 0, 24)}-batch-ec2-"
  role        = aws_iam_role.instance.name

  tags = var.tags
}

resource "aws_launch_template" "this" {
  for_each = var.compute_environments

  name_prefix = "${var.name}-batch-${each.key}-"

  # IMDSv2 only, and containers cannot reach the instance's credentials through an extra hop.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # Encrypted with the account's EBS key: a customer key would have to be granted to the Auto Scaling
  # and Spot service-linked roles that launch the instances, which this module does not own.
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = each.value.root_volume_size_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-batch-${each.key}" })
  }

  tags = var.tags
}

data "aws_iam_policy_document" "service_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["batch.amazonaws.com"]
    }
  }
}

# Only where the account's Batch service-linked role cannot be used (emulators): Batch then needs a role.
resource "aws_iam_role" "service" {
  count = var.create_service_role ? 1 : 0

  name_prefix        = "${substr(var.name, 0, 24)}-batch-svc-"
  assume_role_policy = data.aws_iam_policy_document.service_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "service" {
  count = var.create_service_role ? 1 : 0

  role       = aws_iam_role.service[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSBatchServiceRole"
}

resource "aws_batch_compute_environment" "this" {
  for_each = var.compute_environments

  compute_environment_name_prefix = "${var.name}-${each.key}-"
  type                            = "MANAGED"
  state                           = "ENABLED"
  # null: the account's service-linked role AWSServiceRoleForBatch.
  service_role = var.create_service_role ? aws_iam_role.service[0].arn : null

  compute_resources {
    type                = each.value.spot ? "SPOT" : "EC2"
    allocation_strategy = each.value.spot ? "SPOT_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE"
    instance_type       = each.value.instance_types
    min_vcpus           = each.value.min_vcpus
    max_vcpus           = each.value.max_vcpus
    instance_role       = aws_iam_instance_profile.instance.arn
    subnets             = var.subnet_ids
    security_group_ids  = [aws_security_group.this.id]

    launch_template {
      launch_template_id = aws_launch_template.this[each.key].id
      version            = aws_launch_template.this[each.key].latest_version
    }

    tags = var.tags
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.instance, aws_iam_role_policy_attachment.service]

  lifecycle {
    create_before_destroy = true
    # Batch scales desired vCPUs itself; Terraform must not fight it.
    ignore_changes = [compute_resources[0].desired_vcpus]
  }
}

resource "aws_batch_job_queue" "this" {
  for_each = var.compute_environments

  name     = "${var.name}-${each.key}"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.this[each.key].arn
  }

  tags = var.tags
}
