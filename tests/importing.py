"""Helpers that follow monday's three documented steps, as a client would."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from typing import Any

import httpx

from tests.conftest import Api

JOB_TIMEOUT = 120.0  # seconds a test waits for a job to end
TERMINAL = frozenset({"COMPLETED", "FAILED", "REJECTED"})
STATUS_FIELDS = """status counts { submitted invalid skipped created updated failed }
    progress_percentage failure_reason failure_message fully_imported report_created report_url"""
STATUS_QUERY = (
    "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { "
    + STATUS_FIELDS
    + " } } }"
)


async def start_job(
    api: Api,
    board_id: str = "100",
    group_id: str = "topics",
    *,
    mutation: str = "ingest_items",
    on_match: dict[str, str] | None = None,
    token: str = "tok-ada",
) -> dict[str, str]:
    """Step 1: start the job; returns {job_id, upload_url}."""
    if mutation == "ingest_items" and on_match is not None:
        query = """mutation($b: ID!, $g: String!, $m: ItemsJobOnMatchInput) {
            ingest_items(board_id: $b, group_id: $g, on_match: $m) { job_id upload_url } }"""
        variables: dict[str, Any] = {"b": board_id, "g": group_id, "m": on_match}
    else:
        query = f"""mutation($b: ID!, $g: String!) {{
            {mutation}(board_id: $b, group_id: $g) {{ job_id upload_url }} }}"""
        variables = {"b": board_id, "g": group_id}
    data = await api.gql(query, variables, token=token)
    return dict(data[mutation])


async def upload(
    url: str, body: bytes | str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Step 2: PUT the CSV to the pre-signed URL with Content-Type: text/csv."""
    content = body.encode() if isinstance(body, str) else body
    sent = {"Content-Type": "text/csv", **(headers or {})}
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.put(url, content=content, headers=sent)


async def job_status(api: Api, job_id: str, token: str = "tok-ada") -> dict[str, Any]:
    data = await api.gql(STATUS_QUERY, {"id": job_id}, token=token)
    return dict(data["fetch_job_status"])


async def wait_for_job(api: Api, job_id: str, token: str = "tok-ada") -> dict[str, Any]:
    """Step 3: poll fetch_job_status until a terminal state."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        status = await job_status(api, job_id, token)
        if status["status"] in TERMINAL:
            return status
        assert time.monotonic() < deadline, f"job {job_id} still {status}"
        await asyncio.sleep(0.2)


async def run_import(api: Api, body: bytes | str, **kwargs: Any) -> dict[str, Any]:
    """All three steps; returns the final status."""
    job = await start_job(api, **kwargs)
    response = await upload(job["upload_url"], body)
    assert response.status_code == 200, response.text
    assert response.headers.get("etag")
    token = kwargs.get("token", "tok-ada")
    return {**await wait_for_job(api, job["job_id"], token=token), "job_id": job["job_id"]}


async def download_report(status: dict[str, Any]) -> list[dict[str, str]]:
    assert status["report_created"], status
    async with httpx.AsyncClient() as client:
        response = await client.get(status["report_url"])
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


async def board_items(api: Api, board_id: str = "100") -> dict[str, dict[str, Any]]:
    """name -> {id, group, values: {column id: (text, value)}} for every item of the board."""
    data = await api.gql(
        """query($b: [ID!]) { boards(ids: $b) { items(limit: 500) { id name group { id }
            column_values { id text value } } } }""",
        {"b": [board_id]},
    )
    items = data["boards"][0]["items"]
    return {
        item["name"]: {
            "id": item["id"],
            "group": item["group"]["id"],
            "values": {v["id"]: v["text"] for v in item["column_values"] if v["text"] is not None},
        }
        for item in items
    }


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    """A CSV file as a careful client writes it: RFC 4180 quoting, one record per line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


async def stored_values(api: Api, board_id: str = "100") -> dict[str, dict[str, tuple[str, Any]]]:
    """name -> {column id: (text, value)} of every item of a board, read back with
    `items(ids) { column_values { id text value } }`; `value` is decoded from its JSON string
    and columns without a stored value are left out."""
    data = await api.gql(
        "query($b: [ID!]) { boards(ids: $b) { items(limit: 500) { id } } }", {"b": [board_id]}
    )
    ids = [item["id"] for item in data["boards"][0]["items"]]
    found: dict[str, dict[str, tuple[str, Any]]] = {}
    for start in range(0, len(ids), 100):
        data = await api.gql(
            """query($ids: [ID!]) { items(ids: $ids, limit: 100) { id name
                column_values { id text value } } }""",
            {"ids": ids[start : start + 100]},
        )
        for item in data["items"]:
            found[item["name"]] = {
                v["id"]: (v["text"], json.loads(v["value"]))
                for v in item["column_values"]
                if v["value"] is not None
            }
    return found


async def report_by_name(status: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The report's rows keyed by their `name` cell."""
    return {row["name"]: row for row in await download_report(status)}


async def item_count(api: Api, board_id: str = "100") -> int:
    data = await api.gql(
        "query($b: [ID!]) { boards(ids: $b) { items(limit: 500) { id } } }", {"b": [board_id]}
    )
    return len(data["boards"][0]["items"])
