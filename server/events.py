"""Import/export progress events, carried between processes by PostgreSQL LISTEN/NOTIFY.

A runner publishes with `publish` (the event is also remembered per workspace, user and type,
so a new subscriber starts from the current state); every process keeps one dedicated
listening connection, outside the pool, that reconnects by itself, and fans events out to
its local subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NotRequired, TypedDict

import asyncpg
import orjson

from server import sql
from server.db import Connection, Pool
from server.store.records import Board, User

logger = logging.getLogger(__name__)
Q = sql.queries("events")

CHANNEL = "import_export_progress"
# payload: the id of a user whose token was revoked; their open websockets are closed
TOKEN_REVOKED_CHANNEL = "token_revoked"
JOB_CHANNEL = "job_changed"  # payload: a job id; sent by every update of an import job
RECONNECT_DELAY = 1.0  # seconds between attempts to get the listener back
LISTENER_NAME = "importserver-listener"  # its application_name, as pg_stat_activity shows it
PING_INTERVAL = 5.0  # seconds between liveness checks of the listening connection
QUEUE_SIZE = 1000  # events a slow subscriber may fall behind before it is dropped
# An export publishes at least every batch of records; a state older than this is one whose
# process died before its end, and a new subscriber is not told it still runs.
EXPORT_STALE_AFTER = 600.0  # seconds


class ProgressEvent(TypedDict):
    type: str  # IMPORT | EXPORT
    userId: str
    username: str
    projectId: str  # the workspace's slug
    projectName: str
    status: str  # IN_PROGRESS | COMPLETE | CANCELLED | ERROR
    progress: float
    error: NotRequired[str | None]  # only in an ERROR event, as Blue documents
    fileUrl: NotRequired[str | None]
    totalCount: NotRequired[int | None]


def first_name(user: User) -> str:
    return user.name.split()[0] if user.name.split() else ""


def progress_event(
    type_: str, user: User, board: Board, status: str, progress: float, error: str | None = None
) -> ProgressEvent:
    """Blue's payload, exactly: who, which workspace (by slug), how far, and what went wrong
    (the `error` key only when the status is ERROR)."""
    event: ProgressEvent = {
        "type": type_,
        "userId": str(user.id),
        "username": first_name(user),
        "projectId": board.slug,
        "projectName": board.name,
        "status": status,
        "progress": progress,
    }
    if status == "ERROR":
        event["error"] = error
    return event


class _Envelope(TypedDict):
    board_id: int
    user_id: int
    seq: int
    event: ProgressEvent


async def publish(
    conn: Pool | Connection, board_id: int, user_id: int, event: ProgressEvent
) -> None:
    seq = await conn.fetchval(Q["remember_event"], board_id, user_id, event["type"], event)
    envelope: _Envelope = {"board_id": board_id, "user_id": user_id, "seq": seq, "event": event}
    await conn.execute(Q["notify"], orjson.dumps(envelope).decode())


class EventBus:
    def __init__(self, database_url: str, pool: Pool) -> None:
        self.database_url = database_url
        self.pool = pool
        self.subscribers: dict[tuple[int, int], set[asyncio.Queue[_Envelope]]] = defaultdict(set)
        self.job_watchers: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.notice_hooks: dict[str, list[Callable[[str], None]]] = defaultdict(list)
        self.reconnect_hooks: list[Callable[[], Awaitable[None]]] = []
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Keep a listening connection open for as long as the process lives."""
        first = True
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self.database_url, server_settings={"application_name": LISTENER_NAME}
                )
                await conn.add_listener(CHANNEL, self._on_notify)
                await conn.add_listener(JOB_CHANNEL, self._on_job_changed)
                for channel in self.notice_hooks:
                    await conn.add_listener(channel, self._on_notice)
                self.connected.set()
                if not first:
                    await self._after_reconnect()
                first = False
                await self._hold(conn)
            except asyncio.CancelledError:
                raise
            except (
                OSError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
            ):
                logger.warning("event listener lost, reconnecting", extra={"action": "listen"})
            finally:
                self.connected.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(RECONNECT_DELAY)

    def on_reconnect(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Await `hook()` each time the listener is back after losing its connection: what
        was notified meanwhile never arrives, so a hook checks again what it would have told."""
        self.reconnect_hooks.append(hook)

    async def _after_reconnect(self) -> None:
        try:
            await self._replay_latest()
        except Exception:  # the database gone again: the next reconnection replays
            logger.exception("replay after reconnecting failed", extra={"action": "listen"})
        for hook in list(self.reconnect_hooks):
            try:
                await hook()
            except Exception:  # one failing check must not take the listener down
                logger.exception("check after reconnecting failed", extra={"action": "listen"})

    @staticmethod
    async def _hold(conn: asyncpg.Connection) -> None:
        """Return when the connection is gone: closed, or no longer answering a ping."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), PING_INTERVAL)
                return
            await asyncio.wait_for(conn.fetchval("SELECT 1"), PING_INTERVAL)

    def _on_notify(self, _conn: Connection, _pid: int, _channel: str, payload: object) -> None:
        self._fan_out(orjson.loads(str(payload)))

    def _fan_out(self, envelope: _Envelope) -> None:
        for queue in list(self.subscribers.get((envelope["board_id"], envelope["user_id"]), ())):
            try:
                queue.put_nowait(envelope)
            except asyncio.QueueFull:
                logger.warning("subscriber too slow, event dropped", extra={"action": "fan_out"})

    async def _replay_latest(self) -> None:
        """Give the subscribers the latest event of each import and export of theirs: what
        was notified while the listener was away never arrives, and an import's or export's
        end would be missed for ever. Each subscription drops what it has seen already."""
        for board_id, user_id in list(self.subscribers):
            rows = await self.pool.fetch(Q["latest_events"], board_id, user_id, EXPORT_STALE_AFTER)
            for row in rows:
                self._fan_out(
                    {"board_id": board_id, "user_id": user_id, "seq": row["seq"],
                     "event": row["payload"]}
                )  # fmt: skip

    def on_notice(self, channel: str, hook: Callable[[str], None]) -> None:
        """Call `hook(payload)` for every NOTIFY on `channel`, sent by any process. Register
        before `run` starts: channels are listened to when the connection opens."""
        self.notice_hooks[channel].append(hook)

    def _on_notice(self, _conn: Connection, _pid: int, channel: str, payload: object) -> None:
        for hook in list(self.notice_hooks.get(channel, ())):
            hook(str(payload))

    def active_subscriptions(self) -> int:
        return sum(len(q) for q in self.subscribers.values()) + sum(
            len(w) for w in self.job_watchers.values()
        )

    def _on_job_changed(self, _conn: Connection, _pid: int, _channel: str, payload: object) -> None:
        for changed in list(self.job_watchers.get(str(payload), ())):
            changed.set()

    async def job_changes(self, job_id: str) -> AsyncIterator[None]:
        """Yields once at once, then after every change of the job (changes may coalesce)."""
        changed = asyncio.Event()
        self.job_watchers[job_id].add(changed)
        try:
            while True:
                yield
                await changed.wait()
                changed.clear()
        finally:
            self.job_watchers[job_id].discard(changed)
            if not self.job_watchers[job_id]:
                del self.job_watchers[job_id]

    async def subscribe(self, board_id: int, user_id: int) -> AsyncIterator[ProgressEvent]:
        """The state of an import or export still running first (its latest event), then
        every new event. A finished one is not replayed: a client subscribes, then starts an
        import and waits for its end, and a replayed end of the one before would end its wait
        at once (Blue sends nothing from before the subscription)."""
        queue: asyncio.Queue[_Envelope] = asyncio.Queue(QUEUE_SIZE)
        key = (board_id, user_id)
        self.subscribers[key].add(queue)
        # per type: an import's event may commit after a later-numbered export event was read
        seen: dict[str, int] = {}
        try:
            rows = await self.pool.fetch(Q["latest_events"], board_id, user_id, EXPORT_STALE_AFTER)
            for row in rows:
                seen[row["type"]] = row["seq"]
                if row["payload"]["status"] == "IN_PROGRESS":
                    yield row["payload"]
            while True:
                envelope = await queue.get()
                # older ones were covered by the state above, or by an event since (a replay
                # after the listener reconnected repeats the latest)
                kind = envelope["event"]["type"]
                if envelope["seq"] > seen.get(kind, 0):
                    seen[kind] = envelope["seq"]
                    yield envelope["event"]
        finally:
            self.subscribers[key].discard(queue)
            if not self.subscribers[key]:
                del self.subscribers[key]
