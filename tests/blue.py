"""Helpers for Blue's flow: upload the file, import it, follow progress over websockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws

from tests.conftest import Api, ServerProcess
from tests.importing import postgres_socket

IMPORT = """mutation($input: ImportTodosInput!) { importTodos(input: $input) }"""
REPORT = """query($p: String!) { todoImportReport(projectId: $p) {
    status progress total imported failed error unknownHeaders errors { line column code message } } }"""
SUBSCRIBE = "subscription($p: String!, $u: String!) { subscribeToImportExportProgress(projectId: $p, userId: $u) }"
TIMEOUT = 120.0  # seconds a test waits for an import
EVENT_TIMEOUT = 30.0  # seconds a test waits for the next progress event


async def put_file(
    api: Api, project: str, body: str | bytes, token: str = "tok-ada", filename: str = "import.csv"
) -> str:
    """createFileUpload, then PUT the file: returns its s3Key."""
    data = await api.gql(
        "mutation($i: CreateFileUploadInput!) { createFileUpload(input: $i) { s3Key uploadUrl expiresAt } }",
        {"i": {"projectId": project, "filename": filename}},
        token=token,
    )
    upload = data["createFileUpload"]
    content = body.encode() if isinstance(body, str) else body
    async with httpx.AsyncClient() as client:
        response = await client.put(
            upload["uploadUrl"], content=content, headers={"Content-Type": "text/csv"}
        )
    assert response.status_code == 200, response.text
    return str(upload["s3Key"])


async def start_import(
    api: Api, project: str, key: str, headers: list[str], token: str = "tok-ada", **extra: Any
) -> httpx.Response:
    variables = {"input": {"s3Key": key, "headers": headers, "projectId": project, **extra}}
    return await api.post(IMPORT, variables, token=token)


async def wait_for_report(api: Api, project: str, token: str = "tok-ada") -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        report = (await api.gql(REPORT, {"p": project}, token=token))["todoImportReport"]
        if report and report["status"] != "IN_PROGRESS":
            return dict(report)
        assert time.monotonic() < deadline, report
        await asyncio.sleep(0.2)


async def import_file(
    api: Api, project: str, body: str, headers: list[str], **extra: Any
) -> dict[str, Any]:
    key = await put_file(api, project, body)
    response = await start_import(api, project, key, headers, **extra)
    assert response.json() == {"data": {"importTodos": True}}, response.text
    return await wait_for_report(api, project)


@contextlib.asynccontextmanager
async def websocket(
    server_url: str, protocol: str, token: str = "tok-ada"
) -> AsyncIterator[AsyncWebSocketSession]:
    """An acknowledged websocket in either subprotocol."""
    async with (
        httpx.AsyncClient(base_url=server_url) as client,
        aconnect_ws("/graphql", client, subprotocols=[protocol]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": token}})
        ack = await ws.receive_json(timeout=10)
        assert ack["type"] == "connection_ack", ack
        yield ws


async def subscribe(ws: AsyncWebSocketSession, protocol: str, project: str, user_id: str) -> None:
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    await ws.send_json(
        {
            "id": "1",
            "type": start,
            "payload": {"query": SUBSCRIBE, "variables": {"p": project, "u": user_id}},
        }
    )


async def next_event(ws: AsyncWebSocketSession) -> dict[str, Any]:
    """The next subscription payload (skipping keep-alives)."""
    while True:
        message = await ws.receive_json(timeout=EVENT_TIMEOUT)
        if message["type"] in ("next", "data"):
            payload = message["payload"]
            if payload.get("errors"):
                return {"type": "error", "payload": payload["errors"]}
            return dict(payload["data"]["subscribeToImportExportProgress"])
        if message["type"] in ("ka", "ping", "pong"):
            continue
        return dict(message)  # an error or complete: let the test see it


async def run_sql(server: ServerProcess, statement: str) -> None:
    """Change the server's database behind its back, as another writer could."""
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
