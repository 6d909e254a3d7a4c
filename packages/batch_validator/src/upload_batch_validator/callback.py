"""Reports of the validation harness, through the job reporter shared with the checksum job."""

from __future__ import annotations

from typing import Literal

from upload_common.job_reports import Reporter

ReportStatus = Literal["VALIDATING", "VALIDATED", "FAILED"]

__all__ = ["ReportStatus", "Reporter"]
