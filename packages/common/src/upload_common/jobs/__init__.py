"""Container jobs: the `JobRunner` interface (AWS Batch and a local process runner live in submodules).

Only the interface is imported here: the local runner's supervisor runs as `python -m
upload_common.jobs.supervisor`, and it should not pay for importing boto3.
"""

from upload_common.jobs.base import JobRunner, JobSpec, JobState, JobStatus, ResolvedImage

__all__ = ["JobRunner", "JobSpec", "JobState", "JobStatus", "ResolvedImage"]
