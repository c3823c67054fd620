"""A monday-style job's status as clients see it: in fetch_job_status, callbacks and pushes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.services import Services
from server.store.jobs import Job

TERMINAL = frozenset({"COMPLETED", "FAILED", "REJECTED"})
REPORT_URL_TTL = timedelta(minutes=10)


def fully_imported(job: Job) -> bool:
    return job.status == "COMPLETED" and job.counts["invalid"] == 0 and job.counts["failed"] == 0


async def report_url(services: Services, job: Job) -> str | None:
    """A fresh pre-signed link to the job's report, valid 10 minutes."""
    if not job.report_key:
        return None
    return await services.storage.presign_get(
        job.report_key,
        expires_in=int(REPORT_URL_TTL.total_seconds()),
        filename=f"import-report-{job.id}.csv",
    )


def report_created(job: Job) -> bool:
    return job.report_key is not None or bool(job.options.get("subitems_report"))


async def subitems_report_url(services: Services, job: Job) -> str | None:
    if not job.options.get("subitems_report"):
        return None
    return await services.storage.presign_get(
        f"reports/{job.id}.subitems.csv",
        expires_in=int(REPORT_URL_TTL.total_seconds()),
        filename=f"import-report-{job.id}-subitems.csv",
    )


async def status_payload(services: Services, job: Job) -> dict[str, Any]:
    """The ItemsJobStatus fields as JSON, with the job id."""
    return {
        "job_id": str(job.id),
        "status": job.status,
        "counts": {k: int(v) for k, v in job.counts.items()},
        "progress_percentage": job.progress,
        "failure_reason": job.failure_reason,
        "failure_message": job.failure_message,
        "fully_imported": fully_imported(job),
        "report_created": report_created(job),
        "report_url": await report_url(services, job),
        "subitems_report_url": await subitems_report_url(services, job),
    }
