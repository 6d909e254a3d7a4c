# Non-secret settings of the prod stage (its own account). Secrets are never here: see docs/deployment.md.
bucket_name           = "org-humancellatlas-upload-prod"
artifacts_bucket_name = "org-humancellatlas-upload-prod-artifacts"
vpc_cidr_block        = "10.240.0.0/16"
availability_zones    = ["us-east-1a", "us-east-1c", "us-east-1d"]
ingest_url            = "https://api.ingest.archive.data.humancellatlas.org"

database = {
  instance_class        = "db.m7g.large"
  multi_az              = true
  backup_retention_days = 35
}

batch_compute_environments = {
  checksum   = { max_vcpus = 64 }
  validation = { max_vcpus = 512, root_volume_size_gib = 1024 }
}
