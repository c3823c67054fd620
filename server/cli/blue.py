"""Blue's exports as a client runs them. `exportCSVTemplate` answers with a link; `exportTodos`
answers `true` at once and delivers the link in the final EXPORT event of the
`subscribeToImportExportProgress` subscription (graphql-transport-ws), as well as by e-mail."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from httpx_ws import HTTPXWSException, WebSocketSession, connect_ws

from server.cli.client import Client, ClientError, GraphQLError, translate_errors

TEMPLATE = "mutation($i: ExportCSVTemplateInput!) { exportCSVTemplate(input: $i) }"
EXPORT = "mutation($i: ExportTodosInput!) { exportTodos(input: $i) }"
SUBSCRIBE = (
    "subscription($p: String!, $u: String!) "
    "{ subscribeToImportExportProgress(projectId: $p, userId: $u) }"
)
ME = "{ me { id } }"
PROTOCOL = "graphql-transport-ws"
SUBSCRIPTION_ID = "export"
ACK_TIMEOUT = 10.0  # seconds to wait for connection_ack
# The subscription first replays the workspace's latest event of each type; a pause this long
# after subscribing marks the end of that replay, so an old export's link is not taken.
SETTLE = 0.5  # seconds
FINAL = frozenset({"COMPLETE", "ERROR", "CANCELLED"})
# A wait past this many seconds (some 146 years) overflows a lock's timeout: `--timeout inf`
# raised OverflowError instead of waiting.
LONGEST_WAIT = threading.TIMEOUT_MAX / 2

EventCallback = Callable[[dict[str, Any]], None]


def export_template(client: Client, project: str, *, token: str | None = None) -> str:
    """The pre-signed link of the workspace's blank CSV import template."""
    data = client.execute(TEMPLATE, {"i": {"projectId": project}}, token=token)
    return str(data["exportCSVTemplate"])


def export_records(
    client: Client,
    project: str,
    *,
    record_filter: Mapping[str, Any] | None = None,
    token: str | None = None,
    timeout: float | None = None,
    on_event: EventCallback | None = None,
) -> dict[str, Any]:
    """Request an export and wait for its final EXPORT event; return that event (with
    `fileUrl` and `totalCount`). An export that ends in ERROR raises `ClientError`."""
    token = token or client.token
    deadline = None if timeout is None else time.monotonic() + timeout
    user_id = str(client.execute(ME, token=token, deadline=deadline)["me"]["id"])
    export_input: dict[str, Any] = {"projectId": project}
    if record_filter:
        export_input["filter"] = dict(record_filter)
    ws: WebSocketSession
    with (
        translate_errors(),
        _translate_websocket_errors(),
        connect_ws(
            "/graphql",
            client.http,
            subprotocols=[PROTOCOL],
            timeout=client.timeout_until(deadline),
        ) as ws,  # fmt: skip
    ):
        ws.send_json({"type": "connection_init", "payload": {"Authorization": token or ""}})
        ack = _receive(ws, min(ACK_TIMEOUT, client.timeout_until(deadline)))
        if ack.get("type") != "connection_ack":
            raise ClientError("WEBSOCKET_ERROR", f"expected connection_ack, got {ack}")
        ws.send_json(
            {
                "id": SUBSCRIPTION_ID,
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"p": project, "u": user_id}},
            }
        )
        replayed = _replayed_events(ws)
        client.execute(EXPORT, {"i": export_input}, token=token, deadline=deadline)
        started = False
        while True:
            event = _next_event(ws, _remaining(deadline))
            if event.get("type") != "EXPORT":
                continue
            if event.get("status") not in FINAL:
                started = True
            elif not started and _fingerprint(event) in replayed:
                continue  # the previous export's outcome, replayed on subscribing
            if on_event is not None:
                on_event(event)
            if event.get("status") in FINAL:
                break
    if event["status"] != "COMPLETE" or not event.get("fileUrl"):
        raise ClientError("EXPORT_FAILED", str(event.get("error") or event["status"]))
    return event


@contextlib.contextmanager
def _translate_websocket_errors() -> Iterator[None]:
    try:
        yield
    except HTTPXWSException as exc:
        raise ClientError("WEBSOCKET_ERROR", f"{type(exc).__name__}: {exc}") from exc


def _replayed_events(ws: WebSocketSession) -> set[str]:
    """Drain the events the subscription replays on start (until SETTLE seconds of quiet)."""
    seen: set[str] = set()
    while True:
        try:
            seen.add(_fingerprint(_next_event(ws, SETTLE)))
        except ClientError as exc:
            if exc.code == "TIMEOUT":
                return seen
            raise


def _fingerprint(event: Mapping[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return min(max(0.0, deadline - time.monotonic()), LONGEST_WAIT)


def _receive(ws: WebSocketSession, timeout: float | None) -> dict[str, Any]:
    try:
        message = ws.receive_json(timeout=timeout)
    except queue.Empty as exc:
        raise ClientError("TIMEOUT", f"no message from the server in {timeout:g} seconds") from exc
    if not isinstance(message, dict):
        raise ClientError("WEBSOCKET_ERROR", f"unexpected message {message!r}")
    return message


def _next_event(ws: WebSocketSession, timeout: float | None) -> dict[str, Any]:
    """The next payload of our subscription, answering pings on the way."""
    while True:
        message = _receive(ws, timeout)
        kind = message.get("type")
        if kind == "ping":
            ws.send_json({"type": "pong"})
        elif kind == "next" and message.get("id") == SUBSCRIPTION_ID:
            payload = message.get("payload") or {}
            if payload.get("errors"):
                raise GraphQLError(list(payload["errors"]), 200)
            return dict(payload["data"]["subscribeToImportExportProgress"])
        elif kind == "error":
            raise GraphQLError(list(message.get("payload") or []), 200)
        elif kind == "complete":
            raise ClientError("SUBSCRIPTION_ENDED", "the server ended the subscription")
