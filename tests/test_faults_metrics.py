"""Fault injection through the admin API, and the Prometheus metrics."""

from __future__ import annotations

import time

from tests.conftest import Api
from tests.importing import run_import, start_job

INGEST = 'mutation { ingest_items(board_id: "100", group_id: "topics") { job_id upload_url } }'


async def test_injected_rate_limit_fails_the_next_calls_then_clears(api: Api) -> None:
    response = await api.admin(
        "POST",
        "/__admin/faults",
        {
            "operation": "ingest_items",
            "error": "RATE_LIMIT_EXCEEDED",
            "count": 2,
            "retry_after_ms": 1500,
        },
    )
    assert response.status_code == 200
    for _ in range(2):
        failed = await api.post(INGEST)
        assert failed.status_code == 429
        error = failed.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert error["extensions"]["retryAfterMs"] == 1500
    assert "errors" not in (await api.post(INGEST)).json()


async def test_faults_are_cleared_by_delete_and_by_reset(api: Api) -> None:
    await api.admin(
        "POST",
        "/__admin/faults",
        {"operation": "fetch_job_status", "error": "INTERNAL_SERVER_ERROR", "count": 5},
    )
    assert (await api.admin("DELETE", "/__admin/faults")).status_code == 200
    job = await start_job(api)
    status = await api.post(
        "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { status } } }",
        {"id": job["job_id"]},
    )
    assert "errors" not in status.json()


async def test_injected_internal_error_is_a_500_with_a_request_id(api: Api) -> None:
    await api.admin(
        "POST", "/__admin/faults", {"operation": "boards", "error": "INTERNAL_SERVER_ERROR"}
    )
    response = await api.post("{ boards { id } }")
    assert response.status_code == 500
    error = response.json()["errors"][0]
    assert (
        error["extensions"]["code"] == "INTERNAL_SERVER_ERROR" and error["extensions"]["request_id"]
    )


async def test_slow_response_is_answered_after_the_delay(api: Api) -> None:
    await api.admin(
        "POST", "/__admin/faults", {"operation": "me", "error": "SLOW", "delay_ms": 700}
    )
    started = time.monotonic()
    assert (await api.gql("{ me { id } }"))["me"]["id"] == "10"
    assert time.monotonic() - started >= 0.7


async def test_upload_faults_reject_or_fail_the_next_file(api: Api) -> None:
    for error, status in (("FILE_TOO_LARGE", "REJECTED"), ("ACCOUNT_CAPACITY_EXCEEDED", "REJECTED"),
                          ("INVALID_UPLOAD", "REJECTED"), ("INTERNAL_ERROR", "FAILED")):  # fmt: skip
        await api.admin("POST", "/__admin/faults", {"operation": "upload", "error": error})
        result = await run_import(api, "name\nx\n")
        assert (result["status"], result["failure_reason"]) == (status, error)
    assert (await run_import(api, "name\nx\n"))["status"] == "COMPLETED"


async def test_copy_fault_pauses_the_next_jobs_first_copy(api: Api) -> None:
    """A COPY paused well within IDLE_IN_TRANSACTION_SECONDS and the job's lease is only slow:
    no watchdog ends it. The fault takes SLOW alone."""
    refused = await api.admin("POST", "/__admin/faults", {"operation": "copy", "error": "CRASH"})
    assert refused.status_code == 400
    assert "SLOW" in refused.text
    await api.admin(
        "POST", "/__admin/faults", {"operation": "copy", "error": "SLOW", "delay_ms": 700}
    )
    started = time.monotonic()
    result = await run_import(api, "name\nx\ny\n")
    assert time.monotonic() - started >= 0.7
    assert result["status"] == "COMPLETED", result
    assert result["counts"]["created"] == 2, result


async def test_unknown_fault_is_refused(api: Api) -> None:
    response = await api.admin("POST", "/__admin/faults", {"operation": "upload", "error": "NOPE"})
    assert response.status_code == 400


async def test_metrics_after_an_import(api: Api) -> None:
    await run_import(api, "name,status\nA,Done\nB,nope\n")
    # a dry run imports nothing, so its rows are not counted
    assert (await run_import(api, "name\nC\nD\n", dry_run=True))["status"] == "COMPLETED"
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'importserver_jobs{kind="ingest",status="COMPLETED"} 2.0' in text  # dry run too
    assert 'importserver_rows_total{outcome="created"} 1.0' in text
    assert 'importserver_rows_total{outcome="invalid"} 1.0' in text
    assert 'importserver_job_duration_seconds_count{kind="ingest"} 2.0' in text
    assert "importserver_rows_per_second" in text
    assert "importserver_active_subscriptions 0.0" in text
