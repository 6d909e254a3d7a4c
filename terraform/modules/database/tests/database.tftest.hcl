mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  name                       = "upload-test"
  vpc_id                     = "vpc-1"
  subnet_ids                 = ["subnet-1", "subnet-2"]
  allowed_security_group_ids = ["sg-functions"]
  kms_key_arn                = "arn:aws:kms:us-east-1:123456789012:key/k"
}

run "private_encrypted_with_managed_password" {
  command = plan

  assert {
    condition     = aws_db_instance.this.manage_master_user_password == true && aws_db_instance.this.password == null
    error_message = "the master password must be managed by RDS, never passed in"
  }

  assert {
    condition     = aws_db_instance.this.publicly_accessible == false
    error_message = "the database must be private"
  }

  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.kms_key_id == var.kms_key_arn
    error_message = "storage must be encrypted with the given key"
  }

  assert {
    condition     = aws_db_instance.this.backup_retention_period == 7 && aws_db_instance.this.deletion_protection
    error_message = "backups and deletion protection are on by default"
  }

  assert {
    condition     = one([for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"]) == "1"
    error_message = "the database must refuse connections without TLS"
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.clients) == 1 && aws_vpc_security_group_ingress_rule.clients[0].referenced_security_group_id == "sg-functions" && aws_vpc_security_group_ingress_rule.clients[0].from_port == 5432
    error_message = "only the given security groups may reach the database port"
  }

  assert {
    condition     = aws_db_parameter_group.this.family == "postgres16"
    error_message = "the parameter group family must follow the engine's major version"
  }
}

run "rejects_backups_off" {
  command = plan

  variables {
    backup_retention_days = 0
  }

  expect_failures = [var.backup_retention_days]
}

run "rejects_a_single_subnet" {
  command = plan

  variables {
    subnet_ids = ["subnet-1"]
  }

  expect_failures = [var.subnet_ids]
}
