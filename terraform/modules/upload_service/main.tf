# The whole upload service for one stage: network, database, storage, API, workers and Batch, wired
# together through the `UPLOAD_*` settings (DESIGN §8). Secrets reach the functions only as Secrets
# Manager ARNs; their values are put into the secrets out of band and never pass through Terraform.

locals {
  queue_name_prefix = var.name

  # The database URL carries no password: the functions add it from UPLOAD_DATABASE_SECRET_ARN at run time.
  database_url = "postgresql+psycopg://${module.database.db_instance_username}@${module.database.db_instance_address}:${module.database.db_instance_port}/${module.database.db_instance_name}?sslmode=require"

  # The API and the workers read the database secret only when they log in with its password
  # (database_access.tf); the migration function always does (migration.tf).
  secret_arns = merge(var.database_iam_auth ? {} : { database = local.database_secret_arn }, {
    api_keys   = aws_secretsmanager_secret.this["api-keys"].arn
    ingest     = aws_secretsmanager_secret.this["ingest-secret"].arn
    secret_key = aws_secretsmanager_secret.this["secret-key"].arn
  })

  # Settings every function reads; names are fields of upload_common.settings.Settings (a test checks it).
  environment = merge(
    {
      UPLOAD_STORAGE_URL               = "s3://${module.storage.s3_bucket_id}"
      UPLOAD_QUEUE_URL                 = module.storage.sqs_queue_url_prefix
      UPLOAD_JOB_RUNNER                = "aws-batch"
      UPLOAD_BATCH_NAME_PREFIX         = var.name
      UPLOAD_DATABASE_URL              = local.database_url
      UPLOAD_API_KEYS_SECRET_ARN       = local.secret_arns.api_keys
      UPLOAD_INGEST_SECRET_ARN         = local.secret_arns.ingest
      UPLOAD_SECRET_KEY_SECRET_ARN     = local.secret_arns.secret_key
      UPLOAD_CHECKSUM_INLINE_MAX_BYTES = tostring(var.checksum_inline_max_bytes)
      UPLOAD_VALIDATOR_IMAGES          = jsonencode(var.validator_images)
      # Read by the API (new areas) and the expiry sweep (the warning).
      UPLOAD_AREA_TTL_SECONDS            = tostring(var.area_ttl_seconds)
      UPLOAD_AREA_EXPIRY_WARNING_SECONDS = tostring(var.area_expiry_warning_seconds)
    },
    var.ingest_url == null ? {} : { UPLOAD_INGEST_URL = var.ingest_url },
    local.database_environment,
  )

  # The API's credentials last as long as the submitter role allows (one variable sets both, iam.tf).
  credentials_duration_environment = { UPLOAD_CREDENTIALS_DURATION_SECONDS = tostring(var.credentials_duration_seconds) }

  # The notification JWT: its key's ARN and its claims reach the dispatcher alone (it sends notifications).
  ingest_jwt_key_secret_arn = var.ingest_jwt == null ? null : aws_secretsmanager_secret.this["ingest-jwt-key"].arn
  dispatcher_environment = var.ingest_jwt == null ? {} : merge(
    {
      UPLOAD_INGEST_JWT_KEY_SECRET_ARN = local.ingest_jwt_key_secret_arn
      UPLOAD_INGEST_JWT_AUDIENCE       = var.ingest_jwt.audience
    },
    var.ingest_jwt.issuer == null ? {} : { UPLOAD_INGEST_JWT_ISSUER = var.ingest_jwt.issuer },
  )

  # Functions that submit or watch jobs get the queue and the role of their kind of job.
  batch_environment = { for kind in ["checksum", "validation"] : kind => {
    UPLOAD_BATCH_JOB_QUEUE    = module.batch.batch_job_queue_arns[kind]
    UPLOAD_BATCH_JOB_ROLE_ARN = module.batch.iam_job_role_arns[kind]
  } }
  checksum_image_environment = { UPLOAD_CHECKSUM_JOB_IMAGE = var.checksum_job_image }

  # Timeout of the function that consumes each queue (the workers module's default: 900 s).
  consumer_timeouts = {
    checksum   = coalesce(try(var.worker_functions.checksum.timeout, null), 900)
    deletion   = coalesce(try(var.worker_functions.deletion.timeout, null), 900)
    validation = coalesce(try(var.worker_functions.scheduler.timeout, null), 900)
  }

  vpc_config = {
    subnet_ids         = module.network.subnet_private_ids
    security_group_ids = [aws_security_group.functions.id]
  }
}

module "network" {
  source = "../network"

  name                    = var.name
  cidr_block              = var.vpc_cidr_block
  availability_zones      = var.availability_zones
  enable_nat_gateway      = var.enable_nat_gateway
  flow_log_retention_days = var.log_retention_days
  kms_key_arn             = aws_kms_key.this.arn
  tags                    = var.tags
}

resource "aws_security_group" "functions" {
  #checkov:skip=CKV2_AWS_5:attached to every function through vpc_config in the lambda_function module, which checkov cannot follow
  name_prefix = "${var.name}-functions-"
  description = "Lambda functions of ${var.name}: HTTPS out, PostgreSQL to the database"
  vpc_id      = module.network.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-functions" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "functions_https" {
  security_group_id = aws_security_group.functions.id
  description       = "HTTPS to AWS APIs and to Ingest"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "functions_database" {
  security_group_id            = aws_security_group.functions.id
  description                  = "PostgreSQL"
  ip_protocol                  = "tcp"
  from_port                    = module.database.db_instance_port
  to_port                      = module.database.db_instance_port
  referenced_security_group_id = module.database.security_group_id
}

module "database" {
  source = "../database"

  name                       = var.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.subnet_private_ids
  allowed_security_group_ids = concat([aws_security_group.functions.id], var.database.extra_client_security_group_ids)
  engine_version             = var.database.engine_version
  instance_class             = var.database.instance_class
  allocated_storage_gib      = var.database.allocated_storage_gib
  max_allocated_storage_gib  = var.database.max_allocated_storage_gib
  multi_az                   = var.database.multi_az
  backup_retention_days      = var.database.backup_retention_days
  deletion_protection        = var.database.deletion_protection
  skip_final_snapshot        = var.database.skip_final_snapshot
  kms_key_arn                = aws_kms_key.this.arn
  tags                       = var.tags
}

module "storage" {
  source = "../storage"

  bucket_name       = var.bucket_name
  queue_name_prefix = local.queue_name_prefix
  # Messages kept 14 days; each queue hidden 6x its consuming function's timeout (AWS's advice).
  queues                   = { for queue, timeout in local.consumer_timeouts : queue => { visibility_timeout_seconds = 6 * timeout } }
  consumer_timeout_seconds = local.consumer_timeouts
  kms_key_arn              = aws_kms_key.this.arn
  force_destroy            = var.force_destroy_bucket
  # The upload page (served by the API) PUTs session parts to presigned URLs from the API's origin.
  cors_allowed_origins = [regex("^https?://[^/]+", module.api.api_public_url)]

  restrict_dead_letter_sources = var.restrict_dead_letter_sources
  tags                         = var.tags
}

module "api" {
  source = "../api"

  name             = "${var.name}-api"
  filename         = var.api_zip_path
  s3_bucket        = var.artifacts_bucket
  s3_key           = var.api_zip_s3_key
  source_code_hash = var.api_zip_sha256
  environment_variables = merge(local.environment, local.credentials_duration_environment, local.database_user_environment.api, {
    UPLOAD_SUBMITTER_ROLE_ARN = aws_iam_role.submitter.arn
    UPLOAD_STAGING_ROLE_ARN   = aws_iam_role.staging.arn
  })
  attach_policy                  = true
  policy_json                    = data.aws_iam_policy_document.api.json
  vpc_config                     = local.vpc_config
  reserved_concurrent_executions = var.api_reserved_concurrent_executions
  domain_name                    = var.api_domain_name
  certificate_arn                = var.api_certificate_arn
  log_retention_days             = var.log_retention_days
  kms_key_arn                    = aws_kms_key.this.arn
  tags                           = var.tags

  # New code takes traffic only once the schema is migrated (migration.tf).
  depends_on = [aws_lambda_invocation.migrate]
}

module "batch" {
  source = "../batch"

  name                 = var.name
  vpc_id               = module.network.vpc_id
  subnet_ids           = module.network.subnet_private_ids
  compute_environments = var.batch_compute_environments
  bucket_arn           = module.storage.s3_bucket_arn
  create_service_role  = var.batch_create_service_role
  kms_key_arn          = aws_kms_key.this.arn
  tags                 = var.tags
}

module "workers" {
  source = "../workers"

  name                = var.name
  api_zip_path        = var.api_zip_path
  api_zip_sha256      = var.api_zip_sha256
  artifacts_bucket    = var.artifacts_bucket
  api_zip_s3_key      = var.api_zip_s3_key
  checksum_zip_s3_key = var.checksum_zip_s3_key
  checksum_zip_path   = var.checksum_zip_path
  checksum_zip_sha256 = var.checksum_zip_sha256
  functions           = var.worker_functions
  environment_variables = merge(local.environment, local.database_user_environment.worker, {
    UPLOAD_PUBLIC_URL = module.api.api_public_url
  })
  # The scheduler also tells validation jobs where to ask for staging credentials (the API issues them).
  function_environment_variables = {
    checksum         = merge(local.batch_environment.checksum, local.checksum_image_environment)
    checksum_reaper  = local.batch_environment.checksum
    scheduler        = merge(local.batch_environment.validation, { UPLOAD_STAGING_ROLE_ARN = aws_iam_role.staging.arn })
    validation_sweep = local.batch_environment.validation
    dispatcher       = local.dispatcher_environment
  }
  bucket_arn                 = module.storage.s3_bucket_arn
  queue_arns                 = module.storage.sqs_queue_arns
  checksum_job_queue_arn     = module.batch.batch_job_queue_arns["checksum"]
  validation_job_queue_arn   = module.batch.batch_job_queue_arns["validation"]
  checksum_job_role_arn      = module.batch.iam_job_role_arns["checksum"]
  validation_job_role_arn    = module.batch.iam_job_role_arns["validation"]
  job_definition_name_prefix = "${var.name}-"
  validator_repository_arns  = var.validator_repository_arns
  secret_arns                = values(local.secret_arns)
  dispatcher_secret_arns     = compact([local.ingest_jwt_key_secret_arn])
  vpc_config                 = local.vpc_config
  log_retention_days         = var.log_retention_days
  kms_key_arn                = aws_kms_key.this.arn
  tags                       = var.tags

  # New code runs only once the schema is migrated (migration.tf).
  depends_on = [aws_lambda_invocation.migrate]
}
