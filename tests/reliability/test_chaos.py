"""Chaos: several jobs at once on two server processes sharing one database and one S3, while a
seeded random schedule kills (SIGKILL) and restarts a process, freezes one (SIGSTOP) for a few
seconds, cuts every database connection for a second, and queues faults (an S3 read refused,
a full scratch disk, a full object store, a crash as a job ends).

The jobs come in rounds, each started once the one before ended: a monday `backfill_items`
(board 100), an `ingest_items` UPSERT whose keys half match items already on its board (a
board of its own per round) and a Blue `importTodos` (workspace "pipeline"); one Blue export
of that workspace runs meanwhile. Every round ends within SETTLE_SECONDS (never stuck
PROCESSING or IN_PROGRESS); at the end every row is on its board once (a COMPLETED job's all
of them; a FAILED one's counts match the board), no key is held by two items, the export
ended (unless its process was killed), both processes answer /healthz, and the servers logged
no traceback or error that an injected fault does not explain.

The `s3_write` fault reaches only an S3 a server embeds, so the test's own S3 endpoint refuses
writes itself (`StoreSpace`), as a full MinIO does.

Each run prints its seed (`CHAOS seed=...`); `FUZZ_SEED=<int>` runs that one schedule instead
of the suite's, `CHAOS_RUNS=<n>` that many seeds from it."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import random
import re
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
from httpx_ws import AsyncWebSocketSession, aconnect_ws

from server.embedded_s3 import EmbeddedS3
from server.settings import DEFAULT_REGION, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY
from tests.blue import IMPORT, REPORT, SUBSCRIBE
from tests.conftest import ADMIN_TOKEN, ServerProcess, start_server, stop_server
from tests.importing import OPTION_TYPES, STATUS_QUERY, csv_text, postgres_socket
from tests.reliability import test_outages as outages
from tests.test_blue_export import PIPELINE, WORKSPACE

SUITE_SEEDS = [12]  # one schedule in the suite (about 35 s); FUZZ_SEED and CHAOS_RUNS for more
FIRST_SEED = int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else None
RUNS = int(os.environ.get("CHAOS_RUNS", "1"))
SEEDS = list(range(FIRST_SEED, FIRST_SEED + RUNS)) if FIRST_SEED is not None else SUITE_SEEDS

LEASE = "2"  # seconds: a dead or frozen runner's job is taken over quickly
IDLE = "1"  # seconds a transaction may stay idle (under the lease)
BACKFILL_ROWS = 10_000
UPSERT_ROWS = 2_000  # half of their keys are on each round's board already
BLUE_ROWS = 6_000
# the rounds of one run stay within the account's hourly ingest budget (19,000 items) and
# board 100's capacity (100,000 items)
MAX_ROUNDS = 8
CHAOS_SECONDS = 22.0  # how long the schedule runs (it stops earlier once every job ended)
SETTLE_SECONDS = 60.0  # how long the jobs get to end once the schedule stopped
REQUEST_TIMEOUT = 5.0  # seconds a client call waits for one process
UPSERT_BOARD = 800
EXPORT_EVENTS = 400  # at most this many websocket messages are read for the export


# Log entries an injected fault explains: (fault kind, pattern). Any other ERROR or traceback
# fails the run.
_SESSION_LOST = (
    r"ConnectionDoesNotExistError|connection was closed in the middle of operation"
    r"|the underlying connection is closed|connection is closed"
    # asyncpg hands out a pooled connection whose session ended once more (MagicStack/asyncpg#784)
    r"|InternalClientError: cannot switch to state \d+; another operation \(2\) is in progress"
)
EXPLAINED: list[tuple[str, re.Pattern[str]]] = [
    ("cut", re.compile(r"terminating connection due to administrator command|" + _SESSION_LOST)),
    # a frozen process's transactions end idle (IDLE_IN_TRANSACTION_SECONDS)
    ("freeze", re.compile(r"idle-in-transaction|IdleInTransactionSessionTimeout|" + _SESSION_LOST)),
    ("s3_write", re.compile(r"XMinioStorageFull")),
    ("scratch_upload", re.compile(r"No space left on device")),
    ("scratch_chunk", re.compile(r"No space left on device")),
    ("scratch_report", re.compile(r"No space left on device")),
]


@dataclass
class Cluster:
    """Two server processes on one data dir and one S3; either may be dead (None) or frozen
    for a while."""

    data_dir: Path
    env: dict[str, str]
    servers: list[ServerProcess | None]
    frozen: set[int] = field(default_factory=set)
    logs: list[Path] = field(default_factory=list)
    killed_pids: set[int] = field(default_factory=set)

    def live(self) -> list[ServerProcess]:
        return [
            s
            for i, s in enumerate(self.servers)
            if s is not None and i not in self.frozen and s.process.poll() is None
        ]

    def any_server(self) -> ServerProcess:
        for server in self.servers:
            if server is not None:
                return server
        raise AssertionError("no server process")


class NoAnswer(Exception):
    """A request that is not idempotent was sent, and no answer came (its process killed)."""


class StoreSpace:
    """The test's own S3 endpoint refuses the next `full` writes as a full MinIO does (the
    servers' `s3_write` fault reaches only an S3 a server embeds)."""

    def __init__(self) -> None:
        self.full = 0
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def fill(self, writes: int) -> None:
        with self._lock:
            self.full += writes

    def refuses_write(self, bucket: str, key: str) -> bool:
        with self._lock:
            if self.full <= 0:
                return False
            self.full -= 1
            self.refused.append(key)
            return True


@contextlib.contextmanager
def own_s3(space: StoreSpace) -> Iterator[str]:
    s3 = EmbeddedS3(
        access_key=EMBEDDED_ACCESS_KEY,
        secret_key=EMBEDDED_SECRET_KEY,
        region=DEFAULT_REGION,
        refuses_write=space.refuses_write,
    )
    s3.start()
    try:
        yield s3.endpoint_url
    finally:
        s3.stop()


class Chaos:
    """The seeded schedule and the client calls that survive it."""

    def __init__(self, cluster: Cluster, space: StoreSpace, seed: int) -> None:
        self.cluster = cluster
        self.space = space
        self.rng = random.Random(seed)
        self.seed = seed
        self.started = time.monotonic()
        self.done: list[str] = []  # what the schedule did, for the failure message
        self.faults: list[str] = []  # the fault kinds injected

    def note(self, what: str) -> None:
        line = f"{time.monotonic() - self.started:6.2f}s {what}"
        self.done.append(line)
        print(line, flush=True)

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        deadline: float = SETTLE_SECONDS,
        server: ServerProcess | None = None,
        accept: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
        idempotent: bool = True,
    ) -> httpx.Response:
        """A request sent to a live process (or `server`) until one answers as `accept`s. One
        that is not `idempotent` is sent again only when it could not be sent (a client must
        not start an import twice), and its answer, whatever it is, is returned."""
        end = time.monotonic() + deadline
        last: object = None
        timeout = REQUEST_TIMEOUT if idempotent else SETTLE_SECONDS
        while True:
            if server is not None and server.process.poll() is not None:
                raise NoAnswer(f"{method} {path}: its process exited")
            targets = [server] if server is not None else self.cluster.live()
            for target in targets:
                try:
                    async with httpx.AsyncClient(base_url=target.url, timeout=timeout) as client:
                        response = await client.request(method, path, json=json, headers=headers)
                    if accept(response) or not idempotent:
                        return response
                    # a refusal other than a server's error or a rate limit is the test's fault
                    assert response.status_code >= 500 or response.status_code in (200, 429), (
                        response.text
                    )
                    last = (response.status_code, response.text[:500])
                except httpx.ConnectError as error:
                    last = error
                except (httpx.HTTPError, ValueError) as error:
                    if not idempotent:
                        raise NoAnswer(f"{method} {path}: {error!r}") from error
                    last = error
            assert time.monotonic() < end, f"no answer to {method} {path}: {last}"
            if idempotent and last is not None:
                self.note(f"asked again: {str(last)[:200]}")
            await asyncio.sleep(0.2)

    async def gql(self, query: str, variables: dict[str, Any], **kwargs: Any) -> Any:
        def ok(response: httpx.Response) -> bool:
            return response.status_code == 200 and not response.json().get("errors")

        response = await self.call(
            "POST",
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": "tok-ada", "API-Version": "2026-07"},
            accept=ok,
            **kwargs,
        )
        return response.json()["data"]

    async def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.call(method, path, json=body, headers={"X-Admin-Token": ADMIN_TOKEN})

    async def fault(self, body: dict[str, Any]) -> None:
        await self.admin("POST", "/__admin/faults", body)
        self.faults.append(f"{body['operation']}:{body['error']}")
        self.note(f"fault {body}")

    # the schedule's steps

    async def kill_and_restart(self) -> None:
        index = self.rng.randrange(2)
        server = self.cluster.servers[index]
        if server is None or index in self.cluster.frozen:
            return
        self.note(f"SIGKILL process {index} (pid {server.process.pid})")
        self.cluster.killed_pids.add(server.process.pid)
        os.kill(server.process.pid, signal.SIGKILL)
        await asyncio.to_thread(server.process.wait)
        self.cluster.servers[index] = None
        await asyncio.sleep(self.rng.uniform(0.0, 1.5))
        await self.restart(index)

    async def restart(self, index: int) -> None:
        started = await asyncio.to_thread(
            start_server, self.cluster.data_dir, extra_env=self.cluster.env
        )
        self.cluster.servers[index] = started
        self.cluster.logs.append(started.log_path)
        self.note(f"restarted process {index} (pid {started.process.pid})")

    async def restart_dead(self) -> None:
        """Restart a process a `job_end` CRASH fault killed."""
        for index, server in enumerate(self.cluster.servers):
            if server is not None and server.process.poll() is not None:
                self.note(f"process {index} exited ({server.process.returncode})")
                self.cluster.killed_pids.add(server.process.pid)
                self.cluster.servers[index] = None
                await self.restart(index)

    async def freeze(self) -> None:
        index = self.rng.randrange(2)
        server = self.cluster.servers[index]
        if server is None:
            return
        seconds = self.rng.uniform(0.5, 4.0)
        self.note(f"SIGSTOP process {index} for {seconds:.1f}s")
        self.cluster.frozen.add(index)
        self.faults.append("freeze:SIGSTOP")
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
            self.cluster.frozen.discard(index)
        self.note(f"SIGCONT process {index}")

    async def cut_database(self) -> None:
        seconds = self.rng.uniform(0.3, 1.5)
        self.faults.append("cut:database")
        self.note(f"cutting the database for {seconds:.1f}s")
        cut = await outages.cut_database(self.cluster.any_server(), seconds)
        self.note(f"cut the database for {seconds:.1f}s ({cut} connections)")

    async def s3_read_error(self) -> None:
        await self.fault({"operation": "upload", "error": "S3_READ_ERROR", "count": 1})

    async def scratch_full(self) -> None:
        file = self.rng.choice(["chunk", "chunk", "upload", "report"])
        await self.fault({"operation": f"scratch_{file}", "error": "ENOSPC", "count": 1})

    async def store_full(self) -> None:
        writes = self.rng.randint(1, 2)
        self.space.fill(writes)
        self.faults.append("s3_write:STORAGE_FULL")
        self.note(f"the object store refuses the next {writes} writes")

    async def stall_copy(self) -> None:
        """The next job pauses inside its first COPY of items, its board's lock held."""
        delay = self.rng.randint(500, 4000)
        await self.fault({"operation": "copy", "error": "SLOW", "delay_ms": delay})

    async def crash_at_job_end(self) -> None:
        await self.fault({"operation": "job_end", "error": "CRASH", "count": 1})

    async def step(self) -> None:
        steps: list[tuple[Callable[[], Any], int]] = [
            (self.kill_and_restart, 3),
            (self.freeze, 3),
            (self.cut_database, 3),
            (self.s3_read_error, 1),
            (self.scratch_full, 2),
            (self.store_full, 2),
            (self.crash_at_job_end, 1),
            (self.stall_copy, 1),
        ]
        chosen = self.rng.choices([s for s, _ in steps], weights=[w for _, w in steps])[0]
        await chosen()


@dataclass
class Round:
    """One round of jobs, started together once the previous round ended."""

    number: int
    backfill: str = ""
    upsert: str = ""
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def board(self) -> int:
        """The round's own board for the UPSERT."""
        return UPSERT_BOARD + self.number

    @property
    def prefix(self) -> str:
        return f"r{self.number}"


@dataclass
class Export:
    process: int = -1
    pid: int = -1
    events: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


@dataclass
class Workload:
    rounds: list[Round] = field(default_factory=list)
    export: Export = field(default_factory=Export)
    stop: bool = False  # the schedule stopped: no more rounds
    done: bool = False  # the last round ended: the schedule stops


def upsert_fixture(number: int) -> dict[str, Any]:
    """A board for round `number`'s UPSERT, holding the even keys already."""
    board = UPSERT_BOARD + number
    first_id = 8_000_000 + number * 100_000
    return {
        "accounts": PIPELINE["accounts"],
        "boards": [
            {
                "id": board, "account_id": 1, "name": f"Upserts {number}", "slug": f"up{number}",
                "uid": f"cupserts{number:017d}", "members": [{"user_id": 10, "role": "OWNER"}],
                "groups": [{"id": "main", "title": "Main"}],
                "columns": [
                    {"id": "email", "title": "Email", "type": "email"},
                    {"id": "numeric", "title": "Score", "type": "numbers"},
                ],
                "items": [
                    {"id": first_id + n, "name": f"old {n}", "group_id": "main",
                     "values": {"email": f"k{n}@x.io", "numeric": "0"}}
                    for n in range(0, UPSERT_ROWS, 2)
                ],
            }
        ],
    }  # fmt: skip


async def put(chaos: Chaos, url: str, body: str) -> None:
    """PUT a file to an upload URL, again while the store is full."""
    end = time.monotonic() + SETTLE_SECONDS
    async with httpx.AsyncClient(timeout=60) as client:
        while True:
            response = await client.put(
                url, content=body.encode(), headers={"Content-Type": "text/csv"}
            )
            if response.status_code == 200:
                return
            assert response.status_code == 507, response.text
            chaos.note("an upload was refused: the store is full; sent again")
            assert time.monotonic() < end
            await asyncio.sleep(0.1)


async def start_monday(
    chaos: Chaos, mutation: str, board: int, group: str, **opts: Any
) -> tuple[str, str]:
    """Start a job; its id and upload URL."""
    declared = "".join(f", ${name}: {OPTION_TYPES[name]}" for name in opts)
    arguments = "".join(f", {name}: ${name}" for name in opts)
    query = f"""mutation($b: ID!, $g: String!{declared}) {{
        {mutation}(board_id: $b, group_id: $g{arguments}) {{ job_id upload_url }} }}"""
    data = (await chaos.gql(query, {"b": str(board), "g": group, **opts}))[mutation]
    return str(data["job_id"]), str(data["upload_url"])


def backfill_csv(prefix: str) -> str:
    return "name,numeric\n" + "".join(f"bf{prefix} {i},{i}\n" for i in range(BACKFILL_ROWS))


def upsert_csv(prefix: str) -> str:
    rows = [[f"up{prefix} {n}", f"k{n}@x.io", str(1000 + n)] for n in range(UPSERT_ROWS)]
    return csv_text(["name", "email", "numeric"], rows)


def blue_csv(prefix: str) -> str:
    return "Title\n" + "".join(f"rec{prefix} {i}\n" for i in range(BLUE_ROWS))


async def start_round(chaos: Chaos, round_: Round) -> None:
    prefix = round_.prefix
    await chaos.admin("POST", "/__admin/fixture", upsert_fixture(round_.number))
    job, url = await start_monday(chaos, "backfill_items", 100, "topics")
    await put(chaos, url, backfill_csv(prefix))
    round_.backfill = job
    upsert = {"behaviour": "UPSERT", "match_column_id": "email"}
    job, url = await start_monday(chaos, "ingest_items", round_.board, "main", on_match=upsert)
    await put(chaos, url, upsert_csv(prefix))
    round_.upsert = job
    upload = (
        await chaos.gql(
            "mutation($i: CreateFileUploadInput!) { createFileUpload(input: $i) { s3Key uploadUrl } }",
            {"i": {"projectId": "pipeline", "filename": "chaos.csv"}},
        )
    )["createFileUpload"]
    await put(chaos, upload["uploadUrl"], blue_csv(prefix))
    variables = {"input": {"s3Key": upload["s3Key"], "headers": ["Title"], "projectId": "pipeline"}}
    await import_todos(chaos, variables)
    chaos.note(f"round {round_.number}: backfill {round_.backfill}, upsert {round_.upsert}, blue")


async def import_todos(chaos: Chaos, variables: dict[str, Any]) -> None:
    """importTodos, asked again after an error (the database cut, say) only while no import
    of the file exists: a client that starts an import twice gets it twice."""
    key = variables["input"]["s3Key"]
    end = time.monotonic() + SETTLE_SECONDS
    while True:
        try:
            answer = await chaos.call(
                "POST",
                "/graphql",
                json={"query": IMPORT, "variables": variables},
                headers={"Authorization": "tok-ada"},
                idempotent=False,
            )
        except NoAnswer as error:
            answer, said = None, str(error)
        else:
            if answer.json() == {"data": {"importTodos": True}}:
                return
            said = answer.json()["errors"][0]["extensions"]["code"]
        started = await rows(
            chaos.cluster.any_server(), f"SELECT id FROM import_jobs WHERE object_key = '{key}'"
        )
        if answer is None and started:
            chaos.note(f"importTodos got no answer ({said}) but started the import")
            return
        assert not started, f"importTodos answered {said} yet started the import"
        assert answer is None or said == "INTERNAL_SERVER_ERROR", answer.text
        assert time.monotonic() < end, said
        chaos.note(f"importTodos: {said}, nothing started: asked again")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def export_socket(url: str) -> AsyncIterator[AsyncWebSocketSession]:
    async with (
        httpx.AsyncClient(base_url=url) as client,
        aconnect_ws("/graphql", client, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "tok-ada"}})
        ack = await ws.receive_json(timeout=10)
        assert ack["type"] == "connection_ack", ack
        yield ws


async def start_export(chaos: Chaos, export: Export) -> None:
    """Subscribe on a live process, then start the export there; a task keeps its EXPORT
    events until the final one."""
    server = chaos.rng.choice(chaos.cluster.live())
    index = chaos.cluster.servers.index(server)
    subscribed = asyncio.Event()

    async def follow() -> None:
        with contextlib.suppress(Exception):  # a killed process ends the socket
            async with export_socket(server.url) as ws:
                payload = {"query": SUBSCRIBE, "variables": {"p": WORKSPACE, "u": "10"}}
                await ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
                await asyncio.sleep(0.3)
                subscribed.set()
                for _ in range(EXPORT_EVENTS):
                    message = await ws.receive_json(timeout=SETTLE_SECONDS + CHAOS_SECONDS)
                    if message["type"] != "next":
                        continue
                    event = message["payload"].get("data") or {}
                    event = event.get("subscribeToImportExportProgress") or message["payload"]
                    if event.get("type") == "EXPORT":
                        export.events.append(event)
                        if event.get("status") != "IN_PROGRESS":
                            return
        subscribed.set()

    export.task = asyncio.create_task(follow())
    await subscribed.wait()
    query = "mutation($i: ExportTodosInput!) { exportTodos(input: $i) }"
    export.process, export.pid = index, server.process.pid
    try:
        answer = await chaos.call(
            "POST",
            "/graphql",
            json={"query": query, "variables": {"i": {"projectId": WORKSPACE}}},
            headers={"Authorization": "tok-ada"},
            server=server,
            idempotent=False,
        )
    except NoAnswer as error:
        # its process was killed as it asked: the export may not run at all
        assert server.process.poll() is not None, error
        chaos.note(f"exportTodos got no answer, its process killed: {error}")
        return
    assert answer.json() == {"data": {"exportTodos": True}}, answer.text
    chaos.note(f"export started on process {index}")


async def monday_status(chaos: Chaos, job_id: str) -> dict[str, Any]:
    return dict((await chaos.gql(STATUS_QUERY, {"id": job_id}))["fetch_job_status"])


async def blue_report(chaos: Chaos) -> dict[str, Any]:
    return dict((await chaos.gql(REPORT, {"p": "pipeline"}))["todoImportReport"] or {})


async def round_statuses(chaos: Chaos, round_: Round) -> dict[str, dict[str, Any]]:
    return {
        "backfill": await monday_status(chaos, round_.backfill),
        "upsert": await monday_status(chaos, round_.upsert),
        "blue": await blue_report(chaos),
    }


def ended(statuses: dict[str, dict[str, Any]]) -> bool:
    return all(
        s.get("status") not in ("PROCESSING", "UPLOAD_PENDING", "IN_PROGRESS", None)
        for s in statuses.values()
    )


async def run_rounds(chaos: Chaos, workload: Workload) -> None:
    """Start a round, wait for it to end (within SETTLE_SECONDS), start the next, until the
    schedule stops."""
    while not workload.stop and len(workload.rounds) < MAX_ROUNDS:
        round_ = Round(len(workload.rounds))
        workload.rounds.append(round_)
        await start_round(chaos, round_)
        end = time.monotonic() + SETTLE_SECONDS
        while not ended(statuses := await round_statuses(chaos, round_)):
            assert time.monotonic() < end, f"round {round_.number} stuck: {statuses}"
            await asyncio.sleep(0.3)
        round_.statuses = statuses
        chaos.note(f"round {round_.number} ended: {brief(statuses)}")
    workload.done = True


def brief(statuses: dict[str, dict[str, Any]]) -> str:
    def one(status: dict[str, Any]) -> str:
        counts = status.get("counts") or {
            k: status.get(k) for k in ("imported", "failed") if k in status
        }
        return f"{status.get('status')} {counts}"

    return "; ".join(f"{name} {one(status)}" for name, status in statuses.items())


async def run_schedule(chaos: Chaos, workload: Workload) -> None:
    export_at = chaos.rng.uniform(0.5, CHAOS_SECONDS / 2)
    end = time.monotonic() + CHAOS_SECONDS
    while time.monotonic() < end and not workload.done:
        if workload.export.process < 0 and time.monotonic() - chaos.started >= export_at:
            await start_export(chaos, workload.export)
        await asyncio.sleep(chaos.rng.uniform(0.2, 2.0))
        await chaos.restart_dead()
        await chaos.step()
    workload.stop = True
    await chaos.admin("DELETE", "/__admin/faults")  # none is left to fire after the checks
    chaos.note("the schedule stops")
    if workload.export.process < 0:
        await start_export(chaos, workload.export)
    # a CRASH fault queued last may fire later: restart what it killed while the round ends
    while not (workload.rounds and workload.rounds[-1].statuses):
        await chaos.restart_dead()
        await asyncio.sleep(0.3)


# what a cut of every connection does to the test's own (asyncpg#784 for the last)
CUT_OFF = (
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)


async def rows(server: ServerProcess, query: str) -> list[asyncpg.Record]:
    """The rows of `query`, read again when the schedule cuts the connection."""
    host, port = postgres_socket(server)
    for _ in range(20):
        try:
            conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
            try:
                return await conn.fetch(query)
            finally:
                with contextlib.suppress(*CUT_OFF):
                    await conn.close()
        except CUT_OFF:
            await asyncio.sleep(0.2)
    raise AssertionError(f"the database never answered {query}")


async def names_written_once(
    server: ServerProcess, board: int, prefix: str, what: str, outcome: object
) -> list[asyncpg.Record]:
    """The active items of `board` named `prefix ...`, each name once (else fail, naming
    `what` and the job's `outcome`)."""
    found = await rows(
        server,
        f"SELECT name, count(*) AS n FROM items WHERE board_id = {board} "
        f"AND name LIKE '{prefix} %' AND state = 'active' GROUP BY name",
    )
    twice = [r["name"] for r in found if r["n"] > 1]
    assert not twice, f"{what} written twice: {twice[:5]} ({len(twice)}); {outcome}"
    return found


async def check_backfill(server: ServerProcess, round_: Round) -> None:
    status = round_.statuses["backfill"]
    found = await names_written_once(server, 100, f"bf{round_.prefix}", "backfill rows", status)
    counts = status["counts"]
    if status["status"] == "COMPLETED":
        assert counts["created"] == BACKFILL_ROWS == len(found), (status, len(found))
    else:
        assert status["status"] == "FAILED" and status["failure_message"], status
        assert counts["created"] == len(found), (status, len(found))


async def check_upsert(server: ServerProcess, round_: Round) -> None:
    status = round_.statuses["upsert"]
    found = await rows(
        server,
        f"""SELECT id, name, column_values -> 'email' ->> 'text' AS email,
        column_values -> 'numeric' ->> 'text' AS numeric FROM items
        WHERE board_id = {round_.board} AND state = 'active'""",
    )
    by_key: dict[str, list[asyncpg.Record]] = {}
    for row in found:
        by_key.setdefault(row["email"], []).append(row)
    twice = {key: [r["name"] for r in held] for key, held in by_key.items() if len(held) > 1}
    assert not twice, f"keys held by two items: {list(twice.items())[:5]} ({len(twice)}); {status}"
    # the fixture holds the even keys: an odd key's item was created, an even one's updated
    created = sum(1 for key in by_key if key_number(key) % 2)
    updated = sum(1 for r in found if key_number(r["email"]) % 2 == 0 and r["numeric"] != "0")
    for row in found:  # every written item holds its row's values
        if row["numeric"] != "0":
            n = key_number(row["email"])
            wanted = (f"up{round_.prefix} {n}", str(1000 + n))
            assert (row["name"], row["numeric"]) == wanted, dict(row)
    counts = status["counts"]
    if status["status"] == "COMPLETED":
        assert counts["created"] == created == UPSERT_ROWS // 2, (status, created)
        assert counts["updated"] == updated == UPSERT_ROWS // 2, (status, updated)
        assert len(by_key) == UPSERT_ROWS
    else:
        assert status["status"] == "FAILED" and status["failure_message"], status
        assert (counts["created"], counts["updated"]) == (created, updated), status


def key_number(email: str) -> int:
    return int(email[1:].split("@")[0])


async def check_blue(server: ServerProcess, round_: Round) -> None:
    report = round_.statuses["blue"]
    found = await names_written_once(server, 700, f"rec{round_.prefix}", "records", report)
    if report["status"] == "COMPLETE":
        assert report["imported"] == BLUE_ROWS == len(found), (report, len(found))
    else:
        assert report["status"] == "ERROR" and report["error"], report
        assert report["imported"] == len(found), (report, len(found))


async def check_export(chaos: Chaos, export: Export) -> None:
    """An export whose process lived ended COMPLETE (its file holds totalCount records) or
    ERROR with a message; one whose process was killed may end without a word."""
    assert export.task is not None
    killed = export.pid in chaos.cluster.killed_pids or not psutil.pid_exists(export.pid)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(export.task), SETTLE_SECONDS)
    final = [e for e in export.events if e.get("status") != "IN_PROGRESS"]
    if not final:
        assert killed, f"the export never ended: {export.events[-3:]}"
        export.task.cancel()
        return
    event = final[-1]
    if event["status"] == "ERROR":
        assert event.get("error"), event
        return
    assert event["status"] == "COMPLETE", event
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(event["fileUrl"])
    assert response.status_code == 200, response.text
    records = list(csv.reader(io.StringIO(response.text)))[1:]
    assert len(records) == event["totalCount"], (len(records), event)


ENTRY_START = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ |INFO:|WARNING:|ERROR:)")
SUSPICIOUS = re.compile(r"Traceback|^\S+ \S+ (ERROR|CRITICAL) |^ERROR:", re.MULTILINE)


def log_entries(path: Path) -> list[str]:
    """The log's records: a line that starts one, with the lines (a traceback) under it."""
    entries: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        if ENTRY_START.match(line) or not entries:
            entries.append(line)
        else:
            entries[-1] += "\n" + line
    return entries


def suspicious_entries(logs: list[Path]) -> list[str]:
    return [
        f"{path.name}: {entry}"
        for path in logs
        for entry in log_entries(path)
        if SUSPICIOUS.search(entry)
    ]


def unexplained(entries: list[str], kinds: set[str]) -> list[str]:
    """The entries that no injected fault of `kinds` explains."""
    return [
        entry
        for entry in entries
        if not any(kind in kinds and pattern.search(entry) for kind, pattern in EXPLAINED)
    ]


def summary(entry: str) -> str:
    """An entry's first line and its last (the exception)."""
    lines = entry.splitlines()
    return lines[0][:300] + ("" if len(lines) == 1 else " ... " + lines[-1][:300])


@pytest.mark.parametrize("seed", SEEDS)
async def test_chaos_schedule_leaves_every_job_ended_and_every_row_once(
    seed: int, tmp_path: Path
) -> None:
    print(f"CHAOS seed={seed}", flush=True)
    space = StoreSpace()
    with own_s3(space) as endpoint:
        env = {
            "S3_ENDPOINT_URL": endpoint,
            "S3_BUCKET": "chaos",
            "JOB_LEASE_SECONDS": LEASE,
            "IDLE_IN_TRANSACTION_SECONDS": IDLE,
            "TMPDIR": str(tmp_path),
        }
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        first = start_server(data_dir, extra_env=env)
        second = start_server(data_dir, extra_env=env)
        cluster = Cluster(data_dir, env, [first, second], logs=[first.log_path, second.log_path])
        chaos = Chaos(cluster, space, seed)
        try:
            await run(chaos)
        except BaseException as error:
            error.add_note(f"CHAOS seed={seed} (FUZZ_SEED={seed} reruns it)")
            error.add_note("schedule:\n" + "\n".join(chaos.done))
            error.add_note("logs: " + " ".join(str(p) for p in cluster.logs))
            raise
        finally:
            for index, server in enumerate(cluster.servers):
                if server is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(server.process.pid, signal.SIGCONT)
                    cluster.frozen.discard(index)
                    await asyncio.to_thread(stop_server, server)


async def run(chaos: Chaos) -> None:
    await chaos.admin("POST", "/__admin/fixture", PIPELINE)
    workload = Workload()
    rounds = asyncio.create_task(run_rounds(chaos, workload))
    schedule = asyncio.create_task(run_schedule(chaos, workload))
    try:
        await asyncio.gather(rounds, schedule)
    finally:
        for task in (rounds, schedule):
            task.cancel()
    await asyncio.sleep(1.0)  # a CRASH fault kills its process as the last job ends
    await chaos.restart_dead()
    server = chaos.cluster.any_server()
    for round_ in workload.rounds:
        await check_backfill(server, round_)
        await check_upsert(server, round_)
        await check_blue(server, round_)
    await check_export(chaos, workload.export)
    for live in chaos.cluster.servers:
        assert live is not None
        await chaos.call("GET", "/healthz", server=live, deadline=30)
    entries = suspicious_entries(chaos.cluster.logs)
    for entry in entries:
        print("LOG", summary(entry))
    left = unexplained(entries, {f.split(":")[0] for f in chaos.faults})
    assert not left, "unexplained log entries:\n" + "\n".join(left[:5])
