# Non-secret settings of the staging stage. Secrets are never here: see docs/deployment.md.
bucket_name           = "org-humancellatlas-upload-staging"
artifacts_bucket_name = "org-humancellatlas-upload-staging-artifacts"
vpc_cidr_block        = "10.241.0.0/16"
availability_zones    = ["us-east-1a", "us-east-1c", "us-east-1d"]
ingest_url            = "https://api.ingest.staging.archive.data.humancellatlas.org"

database = {
  instance_class        = "db.t4g.medium"
  backup_retention_days = 7
}

batch_compute_environments = {
  checksum   = { max_vcpus = 64 }
  validation = { max_vcpus = 256, root_volume_size_gib = 1024 }
}
