# How the API and the workers reach the database. With IAM database authentication (the default) each
# connects as its own least-privilege role (upload_api, upload_worker: rows only, no DDL; created and
# granted by the migration function) with a token per connection, and reads no database secret. Without
# it, they connect as the master user with the secret RDS rotates (re-read on an authentication failure).

locals {
  database_secret_arn = module.database.db_instance_master_user_secret_arn
  database_users      = { api = "upload_api", worker = "upload_worker" }

  database_environment = var.database_iam_auth ? { UPLOAD_DATABASE_IAM_AUTH = "true" } : {
    UPLOAD_DATABASE_SECRET_ARN = local.database_secret_arn
  }
  database_user_environment = { for service, user in local.database_users :
    service => var.database_iam_auth ? { UPLOAD_DATABASE_USER = user } : {}
  }

  # Execution roles by name: the API's, and every worker's (from its role ARN).
  database_client_roles = merge(
    { api = { role = module.api.lambda_role_name, user = local.database_users.api } },
    { for name, arn in module.workers.lambda_role_arns :
      "worker-${name}" => { role = regex("[^/]+$", arn), user = local.database_users.worker }
    },
  )
}

data "aws_iam_policy_document" "database_connect" {
  for_each = var.database_iam_auth ? local.database_client_roles : {}

  statement {
    sid     = "ConnectAsServiceRole"
    actions = ["rds-db:connect"]
    resources = [
      "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${module.database.db_instance_resource_id}/${each.value.user}",
    ]
  }
}

resource "aws_iam_role_policy" "database_connect" {
  for_each = data.aws_iam_policy_document.database_connect

  name   = "database-connect"
  role   = local.database_client_roles[each.key].role
  policy = each.value.json
}
