"""Completion callbacks: when a job ends, POST its status JSON to the URL the job named.

The body is signed with HMAC-SHA256 under the account's callback secret (header
`X-Signature-SHA256: sha256=<hex>`); a failed delivery is retried with exponential backoff up
to MAX_ATTEMPTS times. Deliveries are rows in PostgreSQL, queued in the transaction that ends
the job, so they survive restarts, and a separate loop sends them: a slow or dead receiver
never holds up a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from server import sql
from server.db import Connection, Pool

logger = logging.getLogger(__name__)
Q = sql.queries("callbacks")

MAX_ATTEMPTS = 5  # deliveries tried before giving up
FIRST_BACKOFF = 1.0  # seconds before the first retry; doubles each time
SEND_TIMEOUT = 10.0  # seconds a receiver has to answer
POLL_INTERVAL = 0.5  # seconds between looks for due deliveries
SIGNATURE_HEADER = "X-Signature-SHA256"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def account_secret(pool: Pool, account_id: int) -> str:
    """The account's callback secret, made on first use."""
    secret = await pool.fetchval(Q["secret"], account_id)
    if secret:
        return str(secret)
    return str(await pool.fetchval(Q["set_secret"], account_id, secrets.token_hex(32)))


async def queue(conn: Connection, job_id: uuid.UUID) -> None:
    """Queue the callback of a job that named one, in the transaction that ends the job: a
    crash after that commit cannot lose it. It is sent once `write_body` has given it a body."""
    await conn.execute(Q["queue"], job_id)


async def unwritten(pool: Pool) -> list[uuid.UUID]:
    """Jobs whose queued callback has no body yet."""
    return [row["job_id"] for row in await pool.fetch(Q["unwritten"])]


async def write_body(pool: Pool, job_id: uuid.UUID, status: dict[str, Any]) -> None:
    await pool.execute(Q["write_body"], job_id, orjson.dumps(status).decode())


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=FIRST_BACKOFF * 2 ** max(attempts - 1, 0))


class Sender:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT) as client:
            while True:
                try:
                    await self.send_due(client)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database blip: try again on the next tick
                    logger.exception("callback loop failed", extra={"action": "callback"})
                await asyncio.sleep(POLL_INTERVAL)

    async def send_due(self, client: httpx.AsyncClient) -> None:
        # real time: delivery retries are about the receiver, not the admin clock
        now = datetime.now(UTC)
        due = await self.pool.fetch(Q["claim_due"], now, now + timedelta(seconds=SEND_TIMEOUT * 3))
        await asyncio.gather(*(self.deliver(client, dict(row)) for row in due))

    async def deliver(self, client: httpx.AsyncClient, row: dict[str, Any]) -> None:
        body = row["body"].encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(await account_secret(self.pool, row["account_id"]), body),
            "X-Job-Id": str(row["job_id"]),
            "X-Attempt": str(row["attempts"]),
        }
        error: str | None = None
        try:
            response = await client.post(row["url"], content=body, headers=headers)
            if response.is_success:
                await self.pool.execute(Q["delivered"], row["id"], datetime.now(UTC))
                return
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        retry_at = datetime.now(UTC) + backoff(row["attempts"])
        with contextlib.suppress(Exception):
            await self.pool.execute(Q["failed"], row["id"], retry_at, error, MAX_ATTEMPTS)
        logger.warning("callback failed", extra={"job_id": str(row["job_id"]), "error": error})
