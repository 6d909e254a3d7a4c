# Containers for the service's own secrets. Terraform creates them empty; an operator puts the values
# (`aws secretsmanager put-secret-value`), so no value is ever in a tfvars file or in the state.
# The database password's secret is created and rotated by RDS itself.

locals {
  secrets = merge(
    {
      "api-keys"      = "Accepted Api-Key values, comma-separated (several at once during a rotation)"
      "ingest-secret" = "Standard Webhooks signing secret (whsec_<base64>) of notifications to Ingest"
      "secret-key"    = "Server secret for per-job callback tokens"
    },
    # Only with a JWT configured; only the dispatcher (which sends notifications) may read it.
    var.ingest_jwt == null ? {} : { "ingest-jwt-key" = "Service-account key that signs the JWT on notifications to Ingest" },
  )
}

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:operator-held values with no rotation Lambda; Api-Keys rotate by listing old and new keys at once (DESIGN §8)
  for_each = local.secrets

  name                    = "${var.name}/${each.key}"
  description             = each.value
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}
