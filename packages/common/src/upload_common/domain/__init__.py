"""The domain layer: every rule about areas, file versions, checksum runs, validations and the outbox.

Plain functions on a SQLAlchemy session that raise domain errors (`upload_common.errors`); no HTTP,
no queues, no object store. The API, the checksum worker, the job callbacks and the workers call
these functions; none of them re-implements a rule. The caller owns the transaction.

| module | holds |
|---|---|
| `areas` | which areas exist, accept files, are processed; create, lock, the deletion steps |
| `submitter_links` | a submitter link's token (one area, an expiry, signed) and when an area's links stop |
| `upload_sessions` | resumable upload sessions: part size and count, the same session, expiry, completion |
| `versions` | the versions of a file and which one is current (by the store's order, never by arrival) |
| `checksum_runs` | who checksums a version, heartbeats, stalled runs; refused and late objects |
| `checksum_results` | recording computed or reported checksums (one function for every path) |
| `checksum_failures` | runs that end FAILED: another run, or the version gives up and ingest is told |
| `validations` | recording, reading and finishing validations |
| `images` | what a validator image reference is, and which images may run (the allow-list) |
| `validator_environment` | which variables a caller may give a validator, and how they reach it alone |
| `jobs` | what jobs are told (callback URLs) and what they may report |
| `state_machines` | the legal transitions of every status |
| `outbox` | the notifications written with the changes that cause them |
| `manifests` | an area's manifest, each expected file's verdict (in SQL), and the area's completeness |
| `seals` | sealing an area for good, and its inventory (canonical JSON, hashed) |
| `reconciliation` | which stored objects were never processed; which versions to re-verify |
| `health` | what the health report counts: stuck runs and validations, FAILED notifications, overdue areas |
"""
