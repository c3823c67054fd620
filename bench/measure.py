"""Measuring tools: jobs through the API, the COPY and pgloader baselines, RSS, pollers, py-spy."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from tests import blue
from tests.conftest import Api, ServerProcess
from tests.importing import STATUS_QUERY, TERMINAL, postgres_socket, start_job

POLL_SECONDS = 0.1  # how often a timed run asks whether its job has ended: at 0.2 s the
# wait for the next look added 0.1 s on average to runs of about 1 s
FINISH_POLL_SECONDS = 0.01  # ... and how often once the job says it is nearly done
NEARLY_DONE = 90  # progress_percentage from which it asks every FINISH_POLL_SECONDS
JOB_TIMEOUT = 900.0  # seconds a timed run waits for its job
UPLOAD_TIMEOUT = 300.0  # seconds for one PUT of a file
BLUE_IMPORT = "mutation($input: ImportTodosInput!) { importTodos(input: $input) }"
BLUE_REPORT = """query($p: String!) { todoImportReport(projectId: $p) {
    status progress total imported failed error } }"""
BLUE_UPLOAD = """mutation($i: CreateFileUploadInput!) {
    createFileUpload(input: $i) { s3Key uploadUrl } }"""


def rows_of(path: Path) -> int:
    """Data records of a CSV file (quoted newlines included), header excluded."""
    with path.open(newline="", encoding="utf-8") as stream:
        return sum(1 for _ in csv.reader(stream)) - 1


# ---------------------------------------------------------------------------------- API runs


@dataclass
class Run:
    label: str
    rows: int
    seconds: float  # upload complete (or importTodos called) -> terminal state
    upload_seconds: float = 0.0
    status: str = ""
    counts: dict[str, Any] = field(default_factory=dict)
    server_seconds: float | None = None  # started_at -> finished_at, the job's own record
    job_id: str | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # CpuSplit seconds, upload included

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


async def put_file(url: str, path: Path) -> float:
    body = await asyncio.to_thread(path.read_bytes)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=UPLOAD_TIMEOUT) as client:
        response = await client.put(url, content=body, headers={"Content-Type": "text/csv"})
    if response.status_code != 200:
        raise RuntimeError(f"upload refused: {response.status_code} {response.text[:300]}")
    return time.monotonic() - started


async def wait_job(api: Api, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        data = await api.gql(STATUS_QUERY, {"id": job_id})
        status = dict(data["fetch_job_status"])
        if status["status"] in TERMINAL:
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} did not end in {JOB_TIMEOUT:.0f} s: {status}")
        # the last chunk or two: looking often costs a few requests and no longer adds half a
        # poll interval (50 ms, 5-7% of a 20,000-row run) to the measured time
        nearly_done = (status.get("progress_percentage") or 0) >= NEARLY_DONE
        await asyncio.sleep(FINISH_POLL_SECONDS if nearly_done else POLL_SECONDS)


async def start_upload(
    api: Api, board_id: int, path: Path, *, mutation: str, on_match: dict[str, str] | None = None
) -> tuple[str, float, float]:
    """Start a job and upload its file: (job id, upload seconds, monotonic time upload ended)."""
    job = await start_job(api, str(board_id), "topics", mutation=mutation, on_match=on_match)
    upload_seconds = await put_file(job["upload_url"], path)
    return job["job_id"], upload_seconds, time.monotonic()


async def server_seconds(api: Api, job_id: str) -> float | None:
    response = await api.admin("GET", f"/__admin/jobs/{job_id}")
    if response.status_code != 200:
        return None
    record = response.json()
    record = record.get("job", record) if isinstance(record, dict) else {}
    started, finished = record.get("started_at"), record.get("finished_at")
    if not started or not finished:
        return None
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


async def monday_run(
    api: Api,
    label: str,
    board_id: int,
    path: Path,
    *,
    mutation: str,
    on_match: dict[str, str] | None = None,
) -> Run:
    job_id, upload_seconds, uploaded = await start_upload(
        api, board_id, path, mutation=mutation, on_match=on_match
    )
    status = await wait_job(api, job_id)
    seconds = time.monotonic() - uploaded
    return await finished_run(api, label, path, job_id, status, seconds, upload_seconds)


async def finished_run(
    api: Api,
    label: str,
    path: Path,
    job_id: str,
    status: dict[str, Any],
    seconds: float,
    upload_seconds: float,
) -> Run:
    """A Run from a job's final status, with the job's own duration and its first failure."""
    counts = dict(status["counts"])
    if status.get("failure_reason"):  # a job that did not complete says why in the table
        counts["first_failure"] = f"{status['failure_reason']}: {status.get('failure_message')}"
    elif counts.get("failed") and status.get("report_url"):
        counts["first_failure"] = await first_failure(status["report_url"])
    job_seconds = await server_seconds(api, job_id)
    if job_seconds is not None and abs(job_seconds - seconds) > 30:
        job_seconds = None  # the admin clock was moved during the job
    return Run(
        label=label, rows=rows_of(path), seconds=seconds, upload_seconds=upload_seconds,
        status=status["status"], counts=counts, job_id=job_id, server_seconds=job_seconds,
    )  # fmt: skip


async def first_failure(report_url: str) -> str:
    """The error of the first `failed` row of a job's report."""
    text = ""
    async with (
        httpx.AsyncClient(timeout=UPLOAD_TIMEOUT) as client,
        client.stream("GET", report_url) as response,
    ):
        async for piece in response.aiter_text():
            text += piece
            if len(text) > 4 * 1024 * 1024:
                break
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("__status") == "failed":
            return str(row.get("__errors", ""))[:160]
    return "?"


async def blue_run(
    api: Api,
    server_url: str,
    label: str,
    board_id: int,
    path: Path,
    headers: list[str],
    *,
    rust: bool,
) -> Run:
    """importTodos, followed as Blue's client does: progress events over a websocket (polling
    todoImportReport costs the server a read of every row result per call)."""
    project = str(board_id)
    data = await api.gql(BLUE_UPLOAD, {"i": {"projectId": project, "filename": path.name}})
    upload = data["createFileUpload"]
    upload_seconds = await put_file(upload["uploadUrl"], path)
    variables = {
        "input": {"s3Key": upload["s3Key"], "headers": headers, "projectId": project,
                  "useRustImport": rust}
    }  # fmt: skip
    protocol = "graphql-transport-ws"
    async with blue.websocket(server_url, protocol) as ws:
        await blue.subscribe(ws, protocol, project, "10")
        await asyncio.sleep(0.3)  # the subscription is registered
        started = time.monotonic()
        await api.gql(BLUE_IMPORT, variables)
        while True:
            event = await asyncio.wait_for(blue.next_event(ws), JOB_TIMEOUT)
            if event.get("status") != "IN_PROGRESS":
                break
        seconds = time.monotonic() - started
    report = (await api.gql(BLUE_REPORT, {"p": project}))["todoImportReport"] or {}
    counts = {"total": report.get("total"), "imported": report.get("imported", 0),
              "failed": report.get("failed", 0)}  # fmt: skip
    if report.get("error") or event.get("error"):
        counts["error"] = report.get("error") or event.get("error")
    return Run(
        label=label, rows=rows_of(path), seconds=seconds, upload_seconds=upload_seconds,
        status=str(event.get("status", event.get("type"))), counts=counts,
    )  # fmt: skip


# ------------------------------------------------------------------------- physical limits


@contextlib.asynccontextmanager
async def database(server: ServerProcess) -> AsyncIterator[asyncpg.Connection]:
    host, port = postgres_socket(server)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    try:
        yield conn
    finally:
        await conn.close()


def _table_sql(table: str, width: int) -> str:
    columns = ", ".join(f"c{n} text" for n in range(1, width + 1))
    return f"CREATE TABLE {table} ({columns})"


async def copy_rows_per_second(
    conn: asyncpg.Connection, path: Path, width: int, repeats: int = 9
) -> tuple[float, list[float]]:
    """Raw COPY of the file into a plain text table: the median rows/s of `repeats` loads
    after one warm-up (a load takes well under 0.1 s, so one alone is noisy)."""
    rows = rows_of(path)
    await conn.execute("DROP TABLE IF EXISTS bench_copy")
    await conn.execute(_table_sql("bench_copy", width))
    times = []
    for attempt in range(repeats + 1):
        await conn.execute("TRUNCATE bench_copy")
        started = time.monotonic()
        await conn.copy_to_table("bench_copy", source=path, format="csv", header=True)
        if attempt:
            times.append(time.monotonic() - started)
    loaded = await conn.fetchval("SELECT count(*) FROM bench_copy")
    if loaded != rows:
        raise RuntimeError(f"COPY loaded {loaded} rows, expected {rows}")
    await conn.execute("DROP TABLE bench_copy")
    return rows / statistics.median(times), times


@dataclass
class SchemaCopy:
    items: int
    values: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


async def item_columns(conn: asyncpg.Connection) -> list[str]:
    """The columns of `items`, in order."""
    return [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'items' ORDER BY ordinal_position"
        )
    ]


async def item_chunks(
    conn: asyncpg.Connection, board_id: int, select: str, items: int, chunk: int
) -> list[bytes]:
    """A board's items (below the ids the floor measurements add) as binary COPY data,
    `chunk` rows a part, each row read by `select`."""
    chunks = []
    for first in range(0, items, chunk):
        out = io.BytesIO()
        await conn.copy_from_query(
            f"SELECT {select} FROM items WHERE board_id = $1 AND id < 10^15 "
            f"ORDER BY id OFFSET {first} LIMIT {chunk}",
            board_id, output=out, format="binary",
        )  # fmt: skip
        chunks.append(out.getvalue())
    return chunks


async def schema_copy(
    conn: asyncpg.Connection, board_id: int, repeats: int = 3, chunk: int = 1000
) -> SchemaCopy:
    """The floor of the server's own schema: the items an import wrote, their values documents
    included, read back and COPYed (binary) into `items` as the import writes them: `chunk`
    rows a transaction, each committed, under its keys, triggers and indexes; median of
    `repeats`. Every repeat takes new ids and positions after the board's last, as new items
    do: re-inserting deleted ids made each unique check visit the dead rows, and one
    20,000-row statement spilled the reference trigger's transition table to disk, neither of
    which an import meets."""
    names = await item_columns(conn)
    counts = await conn.fetchrow(
        "SELECT count(*) AS items, max(position) AS last, "
        "coalesce(sum((SELECT count(*) FROM json_object_keys(column_values))), 0) AS values "
        "FROM items WHERE board_id = $1",
        board_id,
    )
    assert counts is not None
    items = int(counts["items"])
    times = []
    for repeat in range(1, repeats + 1):
        offset = 10**15 * repeat  # new ids, far from the sequences
        shifted = {"id": f"id + {offset}", "position": f"position + {int(counts['last']) * repeat}"}
        select = ", ".join(shifted.get(n, n) for n in names)
        chunks = await item_chunks(conn, board_id, select, items, chunk)
        started = time.monotonic()
        for payload in chunks:
            async with conn.transaction():
                await conn.copy_to_table(
                    "items", source=io.BytesIO(payload), columns=names, format="binary"
                )
        times.append(time.monotonic() - started)
        await conn.execute("DELETE FROM items WHERE id >= $1", offset)
    return SchemaCopy(items=items, values=int(counts["values"]), seconds=statistics.median(times))


@dataclass
class PgloaderResult:
    rows_per_second: float | None
    seconds: float | None  # pgloader's own "Total import time"
    wall_seconds: float | None  # the whole process, start-up included
    version: str
    note: str = ""


async def pgloader_rows_per_second(
    conn: asyncpg.Connection, server: ServerProcess, path: Path, width: int, folder: Path
) -> PgloaderResult:
    binary = shutil.which("pgloader")
    if binary is None:
        return PgloaderResult(None, None, None, "", "not installed (apt-get install pgloader)")
    probe = await asyncio.create_subprocess_exec(
        binary, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    first = (await probe.communicate())[0].decode(errors="replace").splitlines()
    version_text = first[0].strip() if first else "?"
    host, port = postgres_socket(server)
    await conn.execute("DROP TABLE IF EXISTS bench_pgloader")
    await conn.execute(_table_sql("bench_pgloader", width))
    names = ", ".join(f"c{n}" for n in range(1, width + 1))
    target = (
        f"postgresql://postgres@unix:{host}:{port}/postgres"
        if host.startswith("/")
        else f"postgresql://postgres@{host}:{port}/postgres"
    )
    command = folder / "bench.load"
    command.write_text(
        f"""LOAD CSV
     FROM '{path}' ({names})
     INTO {target}
     TARGET TABLE bench_pgloader
     TARGET COLUMNS ({names})
     WITH skip header = 1,
          fields optionally enclosed by '"',
          fields escaped by double-quote,
          fields terminated by ','
;
"""
    )
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        binary, "--no-ssl-cert-verification", str(command),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=folder,
    )  # fmt: skip
    output, _ = await process.communicate()
    wall = time.monotonic() - started
    text = output.decode(errors="replace")
    (folder / "pgloader.log").write_text(text)
    loaded = await conn.fetchval("SELECT count(*) FROM bench_pgloader")
    await conn.execute("DROP TABLE bench_pgloader")
    rows = rows_of(path)
    if process.returncode != 0 or loaded != rows:
        tail = " | ".join(text.strip().splitlines()[-3:])
        return PgloaderResult(
            None, None, wall, version_text,
            f"failed (exit {process.returncode}, {loaded}/{rows} rows): {tail[:200]}",
        )  # fmt: skip
    match = re.search(r"Total import time.*?([0-9.]+)s\s*$", text, re.MULTILINE)
    seconds = float(match.group(1)) if match else wall
    return PgloaderResult(rows / seconds, seconds, wall, version_text)


# ------------------------------------------------------------------------------------- RSS


class RssSampler:
    """The server process's resident memory, sampled on a thread every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.process.memory_info().rss
            except psutil.Error:
                return
            self.samples.append((time.monotonic(), rss))
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def window(self, start: float, end: float) -> list[int]:
        return [rss for t, rss in list(self.samples) if start <= t <= end]

    def peak(self, start: float, end: float) -> int:
        return max(self.window(start, end), default=0)

    def peak_time(self, start: float, end: float) -> float:
        """Seconds after `start` at which the peak of the window was sampled."""
        window = [(rss, t) for t, rss in list(self.samples) if start <= t <= end]
        return max(window)[1] - start if window else 0.0

    def median(self, start: float, end: float) -> int:
        values = self.window(start, end)
        return int(statistics.median(values)) if values else 0


# --------------------------------------------------------------------------- machine load


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its reaped children and its live children."""
    try:
        process = psutil.Process(pid)
        times = process.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        return float(total)
    except psutil.Error:
        return 0.0


def _busy() -> float:
    times = psutil.cpu_times()
    return float(
        sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))
    )


class MachineLoad:
    """How busy the machine was with other work (other sessions' tests, say) during the run:
    all CPU time minus this benchmark's, its server's and its PostgreSQL's."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.started = time.monotonic()
        self.busy = _busy()
        self.ours = sum(_tree_cpu(pid) for pid in pids)
        self.load_start = psutil.getloadavg()[0]

    def report(self) -> tuple[float, float, float]:
        """(seconds, CPU seconds of other processes, share of the machine they used)."""
        seconds = time.monotonic() - self.started
        ours = sum(_tree_cpu(pid) for pid in self.pids) - self.ours
        other = max(0.0, _busy() - self.busy - ours)
        return seconds, other, other / (seconds * (os.cpu_count() or 1))


class CpuSplit:
    """CPU seconds each part of the server spent while a block ran: the server process, its
    parsing worker, its embedded S3 (the child that listens) and PostgreSQL (all its
    processes). Steadier than wall-clock rows/s on a shared machine."""

    PARTS = ("server", "worker", "s3", "postgres")

    def __init__(self, server_pid: int, postgres_pid: int | None) -> None:
        self.server_pid = server_pid
        self.postgres_pid = postgres_pid
        self.seconds: dict[str, float] = {}
        self._start: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        sample = dict.fromkeys(self.PARTS, 0.0)
        with contextlib.suppress(psutil.Error):
            sample["server"] = _cpu(psutil.Process(self.server_pid))
            for child in psutil.Process(self.server_pid).children():
                with contextlib.suppress(psutil.Error):
                    listens = any(c.status == psutil.CONN_LISTEN for c in child.net_connections())
                    sample["s3" if listens else "worker"] += _cpu(child)
        if self.postgres_pid is not None:
            sample["postgres"] = _tree_cpu(self.postgres_pid)
        return sample

    def __enter__(self) -> CpuSplit:
        self._start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        self.seconds = {part: max(0.0, end[part] - self._start[part]) for part in self.PARTS}


def postmaster_pid(server: ServerProcess) -> int | None:
    pid_file = next(server.log_path.parent.rglob("postmaster.pid"), None)
    if pid_file is None:
        return None
    return int(pid_file.read_text().splitlines()[0])


# --------------------------------------------------------------------------------- pollers


@dataclass
class PollStats:
    label: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]  # seconds
    offered: float | None = None  # requests/s the paced pollers meant to send
    server_cpu: float = 0.0  # CPU seconds the server process used during the run
    client_cpu: float = 0.0  # CPU seconds this (the pollers') process used
    # the server's event loop during the run (`loop_lag`): wake-ups, and those late by more
    # than 50 and than 100 ms
    loop: tuple[int, int, int] = (0, 0, 0)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def pooled(self, other: PollStats) -> PollStats:
        """This run and `other` of the same pollers as one sample."""
        return replace(
            self, requests=self.requests + other.requests, errors=self.errors + other.errors,
            seconds=self.seconds + other.seconds, latencies=self.latencies + other.latencies,
            server_cpu=self.server_cpu + other.server_cpu,
            client_cpu=self.client_cpu + other.client_cpu,
            loop=(self.loop[0] + other.loop[0], self.loop[1] + other.loop[1], self.loop[2] + other.loop[2]),
        )  # fmt: skip

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[index]


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def poll(
    server_url: str,
    job_id: str,
    *,
    server_pid: int,
    label: str,
    pollers: int = 50,
    interval: float | None = None,
    duration: float | None = None,
    until_terminal: bool = False,
    counted_from: Callable[[], float | None] | None = None,
) -> PollStats:
    """`pollers` concurrent fetch_job_status loops on one job.

    interval None: closed loop, each poller sends its next request as soon as the last answered
    (throughput at saturation). interval set: each poller sends one request every `interval`
    seconds on a fixed schedule, staggered across pollers, and latency counts from the
    scheduled send time, so a stalled server shows up (no coordinated omission).
    Ends after `duration` seconds, or once a poller sees the job in a terminal state.
    With `counted_from`, only requests sent (or, paced, scheduled) from the moment it returns
    on are counted: pollers may start before the upload, as a client polls its new job.
    """
    latencies: list[float] = []
    errors = Counter[str]()
    done = asyncio.Event()
    body = {"query": STATUS_QUERY, "variables": {"id": job_id}}
    limits = httpx.Limits(max_connections=pollers, max_keepalive_connections=pollers)
    server, client_process = psutil.Process(server_pid), psutil.Process()
    baseline = {"server": _cpu(server), "client": _cpu(client_process)}
    started = time.monotonic()
    end = started + duration if duration is not None else None

    async def one(client: httpx.AsyncClient, index: int) -> None:
        scheduled = started + (interval * index / pollers if interval else 0.0)
        while not done.is_set():
            if interval is not None:
                delay = scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if done.is_set() or (end is not None and time.monotonic() >= end):
                done.set()
                return
            sent = time.monotonic()
            try:
                response = await client.post("/graphql", json=body)
                payload = response.json()
                ok = response.status_code == 200 and "errors" not in payload
            except (httpx.HTTPError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                ok, payload = False, {}
            finished = time.monotonic()
            if not ok:
                errors["http"] += 1
            base = scheduled if interval is not None else sent
            start_counting = counted_from() if counted_from is not None else base
            if start_counting is not None and base >= start_counting:
                if not latencies and counted_from is not None:  # CPU counted from here too
                    baseline.update(server=_cpu(server), client=_cpu(client_process))
                latencies.append(finished - base)
            if interval is not None:
                scheduled += interval
            if until_terminal and ok:
                status = payload["data"]["fetch_job_status"]["status"]
                if status in TERMINAL:
                    done.set()

    async with httpx.AsyncClient(
        base_url=server_url, headers={"Authorization": "tok-ada"}, limits=limits, timeout=60
    ) as client:
        await asyncio.gather(*(one(client, i) for i in range(pollers)))
    counted = counted_from() if counted_from is not None else None
    seconds = time.monotonic() - (counted if counted is not None else started)
    return PollStats(
        label=label, requests=len(latencies), errors=sum(errors.values()), seconds=seconds,
        latencies=latencies, offered=pollers / interval if interval else None,
        server_cpu=_cpu(server) - baseline["server"],
        client_cpu=_cpu(client_process) - baseline["client"],
    )  # fmt: skip


# --------------------------------------------------------------------------------- py-spy


@contextlib.contextmanager
def profiled(pid: int, out: Path | None, rate: int = 100) -> Iterator[None]:
    """py-spy record of the server while the block runs: raw collapsed stacks of whichever
    thread holds the GIL (so waiting in epoll or a queue is not counted as work)."""
    if out is None:
        yield
        return
    binary = shutil.which("py-spy")
    if binary is None:
        print("  (py-spy not found: pip install py-spy; not profiling)")
        yield
        return
    process = subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
         "--threads", "--gil", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if not out.exists():
            print(f"  py-spy wrote nothing: {err.decode(errors='replace')[-500:]}")


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_TRUNK = ("threading.py", "runpy", "concurrent/futures/thread.py", "asyncio/runners.py",
          "uvicorn/main.py", "uvicorn/server.py", "uvicorn/_compat.py", "server/__main__.py")  # fmt: skip


def _frame(frame: str) -> tuple[str, str]:
    """(function with its file, package or server module) of one py-spy frame."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), "?"
    path = match["file"]
    for marker in ("/site-packages/", "/lib/python3.", "/work/main/"):
        if marker in path:  # py-spy usually shortens paths already
            path = path.split(marker, 1)[1]
            path = path.split("/", 1)[1] if marker == "/lib/python3." else path
    top = path.split("/", 1)[0].removesuffix(".py")
    if top == "server":
        package = path.removesuffix(".py").replace("/", ".")
    elif top in sys.stdlib_module_names or path.startswith("<frozen"):
        package = f"stdlib {top}"
    else:
        package = top
    return f"{match['func']} ({path})", package


def summarize_profile(path: Path, top: int = 20) -> str:
    """From py-spy raw stacks (GIL holder only): where the server's Python time goes."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(":", 1)[-1].strip() if frames[0].startswith("thread") else "?"
        frames = [f for f in frames if not f.startswith(("thread", "process"))]
        if not frames:
            continue
        samples += count
        threads[thread] += count
        name, package = _frame(frames[-1])
        own[name] += count
        packages[package] += count
        for function in {_frame(f)[0] for f in frames if not any(t in f for t in _TRUNK)}:
            inclusive[function] += count
    if not samples:
        return f"{path.name}: no samples"

    def share(n: int) -> str:
        return f"{n * 100 / samples:5.1f}%"

    threads_text = ", ".join(f"{t} {share(n).strip()}" for t, n in threads.most_common(5))
    lines = [f"{path.name}: {samples} samples of the thread holding the GIL ({threads_text})"]
    lines.append("  own time by package or server module:")
    lines += [f"    {share(n)}  {name}" for name, n in packages.most_common(15)]
    lines.append("  own time by function:")
    lines += [f"    {share(n)}  {name}" for name, n in own.most_common(top)]
    lines.append("  total time (function and its callees), server code:")
    server_lines = [(k, n) for k, n in inclusive.most_common() if "(server/" in k]
    lines += [f"    {share(n)}  {name}" for name, n in server_lines[:top]]
    return "\n".join(lines)


_LAG_BUCKET = re.compile(
    r'^importserver_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', re.M
)


async def loop_lag(url: str) -> dict[str, float]:
    """The server's event-loop lateness histogram from GET /metrics: upper bound (seconds, or
    +Inf) -> wake-ups at most that late since the server started."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        text = (await client.get("/metrics")).text
    return {bound: float(count) for bound, count in _LAG_BUCKET.findall(text)}


def loop_between(before: dict[str, float], after: dict[str, float]) -> tuple[int, int, int]:
    """Wake-ups between two `loop_lag` readings, and those late by more than 50 and 100 ms."""

    def count(bound: str) -> int:
        return int(after.get(bound, 0) - before.get(bound, 0))

    total = count("+Inf")
    return total, total - count("0.05"), total - count("0.1")
