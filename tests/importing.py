"""Helpers that follow monday's three documented steps, as a client would."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx

from server import db
from server.cli import monday
from tests.conftest import Api, ServerProcess

JOB_TIMEOUT = 120.0  # seconds a test waits for a job to end
# the client's own constants: the tests drive the API exactly as the CLI does
TERMINAL = monday.TERMINAL
STATUS_QUERY = monday.STATUS_QUERY
OPTION_TYPES = monday.OPTION_TYPES


async def start_job(
    api: Api,
    board_id: str = "100",
    group_id: str = "topics",
    *,
    mutation: str = "ingest_items",
    token: str = "tok-ada",
    **options: Any,
) -> dict[str, str]:
    """Step 1: start the job; returns {job_id, upload_url}. `options` are the optional
    arguments (on_match, dry_run, ...), passed as variables."""
    given = {name: value for name, value in options.items() if value is not None}
    declared = "".join(f", ${name}: {OPTION_TYPES[name]}" for name in given)
    arguments = "".join(f", {name}: ${name}" for name in given)
    query = f"""mutation($b: ID!, $g: String!{declared}) {{
        {mutation}(board_id: $b, group_id: $g{arguments}) {{ job_id upload_url }} }}"""
    data = await api.gql(query, {"b": board_id, "g": group_id, **given}, token=token)
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
            # an empty column reads value null (and text "")
            "values": {v["id"]: v["text"] for v in item["column_values"] if v["value"] is not None},
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


def postgres_socket(server: ServerProcess) -> tuple[str, int]:
    """(host or socket directory, port) of the server's embedded PostgreSQL, read from the
    postmaster.pid in its data dir (the folder of the server's log): the lines are pid, data
    dir, start time, port, socket directory, listen address, shared memory, status."""
    pid_file = next(server.log_path.parent.rglob("postmaster.pid"))
    lines = [line.strip() for line in pid_file.read_text().splitlines()]
    host = lines[4] or (lines[5] if lines[5] not in ("", "*") else "127.0.0.1")
    return host, int(lines[3])


async def database_rows(server: ServerProcess, query: str, *args: object) -> list[asyncpg.Record]:
    """The rows of `query` on the server's embedded PostgreSQL, over a connection of its own."""
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def items_by_email(server: ServerProcess) -> list[asyncpg.Record]:
    """Each item of the demo board, read from the database: id, name, and the text of its
    email, numeric and text values (None where it has none)."""
    return await database_rows(
        server,
        "SELECT id, name, column_values -> 'email' ->> 'text' AS email, "
        "column_values -> 'numeric' ->> 'text' AS numeric, "
        "column_values -> 'text' ->> 'text' AS text FROM items "
        "WHERE board_id = 100 ORDER BY id",
    )


@contextlib.asynccontextmanager
async def fresh_database(server: ServerProcess, prefix: str, data: str) -> AsyncIterator[str]:
    """A new database of the server's embedded PostgreSQL, migrated, holding `data` (SQL),
    dropped afterwards; yields its URL."""
    host, port = postgres_socket(server)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        url = f"postgresql://postgres@/{name}?host={host}&port={port}"
        pool = await db.create_pool(url, min_size=1, max_size=1)
        try:
            await db.migrate(pool)
            await pool.execute(data)
        finally:
            await pool.close()
        yield url
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()


@contextlib.asynccontextmanager
async def refusing_name(server: ServerProcess, name: str) -> AsyncIterator[None]:
    """A trigger on `items` that makes PostgreSQL refuse any item called `name`."""
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        await conn.execute(
            f"""
            CREATE OR REPLACE FUNCTION test_refuse_item() RETURNS trigger AS $$
            BEGIN
                IF NEW.name = '{name}' THEN
                    RAISE EXCEPTION 'test trigger refuses item %', NEW.name;
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            DROP TRIGGER IF EXISTS test_refuse_item ON items;
            CREATE TRIGGER test_refuse_item BEFORE INSERT OR UPDATE ON items
                FOR EACH ROW EXECUTE FUNCTION test_refuse_item();
            """
        )
        yield
    finally:
        await conn.execute(
            "DROP TRIGGER IF EXISTS test_refuse_item ON items; "
            "DROP FUNCTION IF EXISTS test_refuse_item();"
        )
        await conn.close()


@contextlib.asynccontextmanager
async def paused_job(server: ServerProcess, job_id: str) -> AsyncIterator[None]:
    """Pause a running job in its middle: from when its first rows have committed until the
    block ends, hold the job's row lock, so that its runner waits in its next chunk's
    checkpoint (that chunk written, not committed). Rows must be left to write then."""
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            transaction = conn.transaction()
            await transaction.start()
            row = await conn.fetchrow(
                "SELECT status, counts, total_rows FROM import_jobs WHERE id = $1 FOR UPDATE",
                uuid.UUID(job_id),
            )
            counts = json.loads(row["counts"]) if row else {}
            done = sum(n for status, n in counts.items() if status != "submitted")
            if row is not None and row["status"] == "PROCESSING" and done > 0:
                # a pause after the last chunk would show nothing
                assert row["total_rows"] is not None and done < row["total_rows"], row
                break
            await transaction.rollback()
            assert time.monotonic() < deadline, f"job {job_id} never wrote its first rows"
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            await transaction.rollback()
    finally:
        await conn.close()
