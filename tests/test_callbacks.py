"""Completion callbacks whatever way a job ends: one delivery each, with the final status.
(Signatures and retries: tests/test_zoho_options.py; a crash as a job ends:
tests/reliability/test_crash.py.)"""

from __future__ import annotations

import asyncio
import json

from tests.conftest import Api
from tests.importing import run_import
from tests.test_zoho_options import Receiver


async def test_rejected_failed_and_dry_run_jobs_each_call_back_once(api: Api) -> None:
    expected: dict[str, tuple[str, str | None]] = {}
    with Receiver(failures=0) as receiver:
        callback = {"url": receiver.url, "method": "POST"}
        for error, final in (("FILE_TOO_LARGE", "REJECTED"), ("INTERNAL_ERROR", "FAILED")):
            await api.admin("POST", "/__admin/faults", {"operation": "upload", "error": error})
            status = await run_import(api, "name\nx\n", callback=callback)
            expected[status["job_id"]] = (final, error)
        status = await run_import(api, "name\nx\n", callback=callback, dry_run=True)
        expected[status["job_id"]] = ("COMPLETED", None)
        for _ in range(100):
            if len(receiver.received) >= len(expected):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # time enough for a second delivery, were there one
    payloads = [json.loads(body) for _, body in receiver.received]
    assert len(payloads) == len(expected), payloads
    assert {p["job_id"]: (p["status"], p["failure_reason"]) for p in payloads} == expected


async def test_job_end_fault_is_a_crash_or_nothing(api: Api) -> None:
    refused = await api.admin("POST", "/__admin/faults", {"operation": "job_end", "error": "SLOW"})
    assert refused.status_code == 400
    assert "CRASH" in refused.text
