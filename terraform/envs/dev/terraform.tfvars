# Non-secret settings of the dev stage. Secrets are never here: see docs/deployment.md.
bucket_name           = "org-humancellatlas-upload-dev"
artifacts_bucket_name = "org-humancellatlas-upload-dev-artifacts"
vpc_cidr_block        = "10.242.0.0/16"
availability_zones    = ["us-east-1a", "us-east-1c", "us-east-1d"]
ingest_url            = "https://api.ingest.dev.archive.data.humancellatlas.org"

database = {
  instance_class        = "db.t4g.small"
  backup_retention_days = 3
  deletion_protection   = false
}

batch_compute_environments = {
  checksum   = { max_vcpus = 16 }
  validation = { max_vcpus = 64, root_volume_size_gib = 512 }
}
