"""The domain layer: every rule about areas, file versions, checksum runs, validations and the outbox.

Plain functions on a SQLAlchemy session that raise domain errors (`upload_common.errors`); no HTTP,
no queues, no object store. The API, the checksum worker, the job callbacks and the workers call
these functions; none of them re-implements a rule. The caller owns the transaction.

| module | holds |
|---|---|
| `areas` | which areas exist, accept files, are processed; create, lock, the deletion steps |
| `versions` | the versions of a file and which one is current |
| `checksum_runs` | claiming a version's checksum run, heartbeats, stalled and finished runs |
| `checksum_results` | recording computed or reported checksums (one function for every path) |
| `validations` | recording, reading and finishing validations |
| `jobs` | what jobs are told (callback URLs) and what they may report |
| `state_machines` | the legal transitions of every status |
| `outbox` | the notifications written with the changes that cause them |
"""
