"""Websocket clients that vanish (their machine or network gone: a reset, no close frame) or
never send connection_init leave nothing behind in a long-running server: no subscription, no
open socket (found missing from the tests by the soak run, bench/soak.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from tests.blue import SUBSCRIBE
from tests.conftest import Api, ServerProcess

CLIENTS = 10
SETTLE_TIMEOUT = 15.0  # seconds for the server to notice every vanished client


def frame(message: dict[str, Any]) -> bytes:
    """One masked websocket text frame, as a client sends it."""
    payload = json.dumps(message).encode()
    mask = os.urandom(4)
    head = struct.pack("!BB", 0x81, 0x80 | len(payload)) if len(payload) < 126 else (
        struct.pack("!BBH", 0x81, 0x80 | 126, len(payload))
    )  # fmt: skip
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_until(sock: socket.socket, marker: bytes) -> None:
    seen = b""
    while marker not in seen:
        data = sock.recv(4096)
        assert data, f"closed before {marker!r}: {seen!r}"
        seen += data


def open_and_vanish(url: str, *, subscribe: bool) -> None:
    """Upgrade to graphql-transport-ws, maybe subscribe to progress, then reset the TCP
    connection without a close frame."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /graphql HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
    )
    read_until(sock, b"\r\n\r\n")
    if subscribe:
        sock.sendall(frame({"type": "connection_init", "payload": {"Authorization": "tok-ada"}}))
        read_until(sock, b"connection_ack")
        query = {"query": SUBSCRIBE, "variables": {"p": "leads", "u": "10"}}
        sock.sendall(frame({"id": "1", "type": "subscribe", "payload": query}))
        time.sleep(0.1)  # the subscription starts
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def open_sockets(server: ServerProcess) -> int:
    """The server process's established connections on its HTTP port."""
    port = urlsplit(server.url).port
    connections = psutil.Process(server.process.pid).net_connections(kind="tcp")
    return sum(c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED for c in connections)


async def active_subscriptions(api: Api) -> float:
    text = (await api.client.get("/metrics")).text
    line = next(line for line in text.splitlines() if line.startswith("importserver_active_sub"))
    return float(line.rsplit(" ", 1)[1])


async def settled(api: Api, server: ServerProcess, sockets: int) -> tuple[float, int]:
    """The open subscriptions and sockets once they are back to none and `sockets`, or at the
    timeout."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        found = (await active_subscriptions(api), open_sockets(server))
        if found == (0.0, sockets) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("subscribe", [True, False], ids=["subscribed", "never_initialised"])
async def test_clients_that_vanish_leave_no_subscription_and_no_socket(
    api: Api, server: ServerProcess, subscribe: bool
) -> None:
    before = open_sockets(server)
    for _ in range(CLIENTS):
        await asyncio.to_thread(open_and_vanish, server.url, subscribe=subscribe)

    assert await settled(api, server, before) == (0.0, before)
