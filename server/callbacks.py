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
MAX_IN_FLIGHT = 50  # deliveries sent at once by one server process
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
        self.in_flight: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=SEND_TIMEOUT) as client:
            try:
                while True:
                    try:
                        await self.send_due(client)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # a database blip: try again on the next tick
                        logger.exception("callback loop failed", extra={"action": "callback"})
                    await asyncio.sleep(POLL_INTERVAL)
            finally:
                for task in self.in_flight:
                    task.cancel()
                await asyncio.gather(*self.in_flight, return_exceptions=True)

    async def send_due(self, client: httpx.AsyncClient) -> None:
        """Start the due deliveries, each on its own: the loop never waits for a receiver
        (a batch awaited whole let one slow receiver hold up every account's callbacks)."""
        free = MAX_IN_FLIGHT - len(self.in_flight)
        if free <= 0:
            return
        # real time: delivery retries are about the receiver, not the admin clock
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=SEND_TIMEOUT * 3)
        for row in await self.pool.fetch(Q["claim_due"], now, lease, free):
            task = asyncio.create_task(self.deliver(client, dict(row)))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def deliver(self, client: httpx.AsyncClient, row: dict[str, Any]) -> None:
        error = await self.send(client, row)
        if error is None:
            with contextlib.suppress(Exception):  # unrecorded: sent again after the lease
                await self.pool.execute(Q["delivered"], row["id"], datetime.now(UTC))
            return
        retry_at = datetime.now(UTC) + backoff(row["attempts"])
        with contextlib.suppress(Exception):
            await self.pool.execute(Q["failed"], row["id"], retry_at, error, MAX_ATTEMPTS)
        logger.warning("callback failed", extra={"job_id": str(row["job_id"]), "error": error})

    async def send(self, client: httpx.AsyncClient, row: dict[str, Any]) -> str | None:
        """POST one delivery; None if the receiver took it, else what went wrong."""
        body = row["body"].encode()
        try:
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(await account_secret(self.pool, row["account_id"]), body),
                "X-Job-Id": str(row["job_id"]),
                "X-Attempt": str(row["attempts"]),
            }
            # the whole call within SEND_TIMEOUT (httpx's timeout is per read: a receiver
            # trickling its answer byte by byte never met it), and the answer's status is
            # all that counts: its body is not read, so one cut short or endless changes
            # nothing
            async with (
                asyncio.timeout(SEND_TIMEOUT),
                client.stream("POST", row["url"], content=body, headers=headers) as response,
            ):
                return None if response.is_success else f"HTTP {response.status_code}"
        except TimeoutError:
            return f"no answer within {SEND_TIMEOUT:g} seconds"
        except Exception as exc:
            # httpx's errors, and what a URL stored before ingest_items checked it raises
            # (httpx.InvalidURL is no HTTPError): a failed try, so the delivery ends after
            # MAX_ATTEMPTS instead of being claimed again for ever
            return f"{type(exc).__name__}: {exc}"
