"""The object store out of space: the embedded S3 refuses writes as a MinIO whose drives are
full refuses them (HTTP 507 XMinioStorageFull), injected with the `s3_write` fault. A job
whose report cannot be stored is retried like an outage, then ends FAILED (INTERNAL_ERROR)
saying the object store is out of space; an export ends with an ERROR event, a template
request with an error; a client's PUT to its upload URL gets S3's answer and may simply be
sent again. Nothing is lost and the server keeps serving."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.blue import next_event, start_import, subscribe, wait_for_report, websocket
from tests.conftest import Api, ServerProcess, shared_s3, start_server, stop_server
from tests.importing import download_report, job_status, start_job, upload, wait_for_job
from tests.reliability.test_crash import all_names
from tests.reliability.test_disk_full import assert_healthy, attempts, leftovers, rows_csv
from tests.test_blue_export import (
    EXPORT,
    TEMPLATE,
    WORKSPACE,
    download,
    error_of,
    export,
    next_window,
    pipeline,
)

LEASE = "1"  # seconds: a job left to its lease is claimed again soon
MAX_ATTEMPTS = 5  # processing.MAX_ATTEMPTS
ROWS = 1_200
FULL = re.compile(r"<Code>XMinioStorageFull</Code>")


@pytest.fixture(scope="module")
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scratch")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, scratch_root: Path) -> Iterator[ServerProcess]:
    """The conftest's server (its `api` fixture resets it) with a short lease and its own
    temporary folder, on its own embedded S3 (the only one the `s3_write` fault reaches)."""
    env = {"JOB_LEASE_SECONDS": LEASE, "TMPDIR": str(scratch_root)}
    started = start_server(tmp_path_factory.mktemp("storage-full-data"), extra_env=env)
    yield started
    stop_server(started)


async def fill_store(api: Api, count: int = 1) -> None:
    """The next `count` writes to the object store are refused for lack of space."""
    fault = {"operation": "s3_write", "error": "STORAGE_FULL", "count": count}
    response = await api.admin("POST", "/__admin/faults", fault)
    assert response.status_code == 200, response.text


async def upload_then_fill(api: Api, url: str, body: str, count: int) -> None:
    """The client's upload goes in; then, before the job writes its report (its processing
    held back a moment), the store fills up for the next `count` writes."""
    slow = {"operation": "upload", "error": "SLOW", "delay_ms": 500}
    assert (await api.admin("POST", "/__admin/faults", slow)).status_code == 200
    assert (await upload(url, body)).status_code == 200
    await fill_store(api, count)


def assert_no_path(text: str, scratch_root: Path) -> None:
    assert str(scratch_root) not in text and "/tmp" not in text, text


async def test_a_report_the_full_store_refuses_is_stored_next_attempt_counting_rows_once(
    api: Api, scratch_root: Path
) -> None:
    job = await start_job(api)
    await upload_then_fill(api, job["upload_url"], rows_csv(ROWS) + "bad,x\n", 1)
    status = await wait_for_job(api, job["job_id"])
    assert status["status"] == "COMPLETED", status
    assert status["counts"]["created"] == ROWS and status["counts"]["invalid"] == 1, status
    [reported] = await download_report(status)
    assert reported["name"] == "bad", reported
    assert await attempts(api, job["job_id"]) == 2
    names = [n for n in await all_names(api) if n.startswith("row ")]
    assert sorted(names) == sorted(f"row {i}" for i in range(ROWS)), "a row lost or doubled"
    assert leftovers(scratch_root) == []


async def test_a_store_that_stays_full_ends_the_job_failed_saying_so_its_rows_kept(
    api: Api, scratch_root: Path
) -> None:
    job = await start_job(api)
    await upload_then_fill(api, job["upload_url"], rows_csv(10) + "bad,x\n", MAX_ATTEMPTS)
    status = await wait_for_job(api, job["job_id"])
    assert status["status"] == "FAILED", status
    assert status["failure_reason"] == "INTERNAL_ERROR", status
    message = status["failure_message"]
    assert "object store ran out of space" in message, message
    assert "XMinioStorageFull" in message and f"tried {MAX_ATTEMPTS} times" in message, message
    assert_no_path(message, scratch_root)
    assert status["counts"]["created"] == 10, status  # what the board holds
    assert len([n for n in await all_names(api) if n.startswith("row ")]) == 10
    assert await attempts(api, job["job_id"]) == MAX_ATTEMPTS
    assert leftovers(scratch_root) == []
    await assert_healthy(api)


async def test_an_upload_the_full_store_refuses_gets_s3s_answer_and_may_be_sent_again(
    api: Api,
) -> None:
    job = await start_job(api)
    await fill_store(api)
    refused = await upload(job["upload_url"], rows_csv(3))
    assert refused.status_code == 507, refused.text
    assert FULL.search(refused.text), refused.text
    assert "minimum free drive threshold" in refused.text, refused.text
    # nothing arrived: the job still waits for its file
    assert (await job_status(api, job["job_id"]))["status"] not in ("FAILED", "COMPLETED")
    again = await upload(job["upload_url"], rows_csv(3))
    assert again.status_code == 200, again.text
    status = await wait_for_job(api, job["job_id"])
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 3, status


async def test_a_blue_upload_the_full_store_refuses_is_no_file_until_it_is_sent_again(
    api: Api,
) -> None:
    data = await api.gql(
        "mutation($i: CreateFileUploadInput!) { createFileUpload(input: $i) { s3Key uploadUrl } }",
        {"i": {"projectId": "leads", "filename": "import.csv"}},
    )
    target = data["createFileUpload"]
    await fill_store(api)
    refused = await upload(target["uploadUrl"], "Title\nrec A\n")
    assert refused.status_code == 507 and FULL.search(refused.text), refused.text
    response = await start_import(api, "leads", target["s3Key"], ["Title"])
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "No file at s3Key" in error["message"], error
    assert (await upload(target["uploadUrl"], "Title\nrec A\n")).status_code == 200
    started = await start_import(api, "leads", target["s3Key"], ["Title"])
    assert started.json() == {"data": {"importTodos": True}}, started.text
    assert (await wait_for_report(api, "leads"))["imported"] == 1


async def test_a_template_the_full_store_refuses_is_a_503_error_and_the_next_works(
    api: Api, scratch_root: Path
) -> None:
    await pipeline(api)
    await fill_store(api)
    response = await api.post(TEMPLATE, {"i": {"projectId": WORKSPACE}})
    body = response.json()
    code, message = error_of(body)
    assert code == "STORAGE_ERROR", body
    assert body["errors"][0]["extensions"]["status_code"] == 503, body
    assert "object store is out of space" in message and "XMinioStorageFull" in message, body
    assert_no_path(message, scratch_root)
    url = (await api.gql(TEMPLATE, {"i": {"projectId": WORKSPACE}}))["exportCSVTemplate"]
    assert len(await download(url)) == 2


async def test_an_export_the_full_store_refuses_ends_in_error_and_the_next_works(
    api: Api, server: ServerProcess, scratch_root: Path
) -> None:
    await pipeline(api)
    await fill_store(api)
    async with websocket(server.url, "graphql-transport-ws") as ws:
        await subscribe(ws, "graphql-transport-ws", WORKSPACE, "10")
        assert (await api.gql(EXPORT, {"i": {"projectId": WORKSPACE}}))["exportTodos"] is True
        event = await next_event(ws)
        while event.get("status") not in ("COMPLETE", "ERROR"):
            event = await next_event(ws)
    assert event["status"] == "ERROR", event
    assert "object store is out of space" in event["error"], event
    assert leftovers(scratch_root) == []
    await next_window(api)
    assert len(await export(api)) == 3


async def test_the_fault_takes_only_storage_full(api: Api) -> None:
    fault = {"operation": "s3_write", "error": "ENOSPC"}
    response = await api.admin("POST", "/__admin/faults", fault)
    assert response.status_code == 400, response.text
    assert "STORAGE_FULL" in response.json()["error"], response.text


async def test_the_fault_is_refused_when_the_server_uses_an_outside_s3(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # only the embedded S3 asks the server before a write: the fault would never fire
    with shared_s3("storage-full-outside") as env:
        outside = start_server(tmp_path_factory.mktemp("outside-s3-data"), extra_env=env)
        try:
            async with httpx.AsyncClient(base_url=outside.url, timeout=30) as client:
                fault = {"operation": "s3_write", "error": "STORAGE_FULL"}
                response = await Api(client).admin("POST", "/__admin/faults", fault)
        finally:
            stop_server(outside)
    assert response.status_code == 400, response.text
    assert "needs the embedded S3" in response.json()["error"], response.text
