"""Custom CloudWatch metrics as embedded metric format (EMF) log lines.

On Lambda, a JSON line on stdout with an `_aws` block becomes a metric in CloudWatch without an API
call (no PutMetricData permission, no latency in the function). Elsewhere (the embedded default, tests)
nothing is printed unless `force`: there is no CloudWatch to read it, and the logs stay readable.
The alarms of terraform/modules/monitoring watch these metrics.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping

NAMESPACE = "dcp-upload"
NOTIFICATIONS_FAILED = "NotificationsFailed"  # a notification ran out of delivery attempts


def emf_line(name: str, value: float, dimensions: Mapping[str, str], *, unit: str = "Count") -> str:
    """One EMF record of metric `name` in `NAMESPACE` with `dimensions`."""
    record: dict[str, object] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        },
        **dimensions,
        name: value,
    }
    return json.dumps(record, separators=(",", ":"))


def put_metric(name: str, value: float, dimensions: Mapping[str, str], *, force: bool = False) -> None:
    """Emit the metric on Lambda (stdout is its CloudWatch log stream); elsewhere only with `force`."""
    if force or os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        sys.stdout.write(emf_line(name, value, dimensions) + "\n")
        sys.stdout.flush()
