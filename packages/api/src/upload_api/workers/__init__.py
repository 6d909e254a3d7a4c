"""Background workers of the api package: each has a per-record function used by its Lambda handler
and by its local loop (`upload-api <worker>`)."""
