"""Soak test: one long-running server, many cycles of ordinary work, resources sampled.

`python -m bench.soak --cycles 300 --every 25` starts one server (embedded PostgreSQL and S3,
scratch folders in a temporary folder of its own), then runs cycles of what clients do: a
small `ingest_items` (an UPSERT of the same five e-mails into `leads`, so that the board and
its export keep their size) and a `backfill_items` into `roadmap`, with reports,
`fetch_job_status` polls, a Blue `importTodos` into `roadmap` followed over a websocket and an
`exportTodos` of `leads`, websockets opened and closed
(and some dropped without a close frame, or never initialised), `job_status` subscriptions,
monday v2 queries whose texts all differ, and refused requests (bad tokens, bad variables,
broken JSON). Every `--every` cycles it samples the server process and prints one table row:
RSS, the parsing workers' RSS, open file descriptors, threads, child processes, PostgreSQL
backends, scratch entries, objects in the bucket and open subscriptions. The last lines give
each figure's growth per 100 cycles after the warm-up (a least-squares slope), which stays
near zero when nothing leaks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import socket
import struct
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the helpers in tests/ start and drive the server
    sys.path.insert(0, str(ROOT))

from server.settings import DEFAULT_REGION, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY  # noqa: E402
from tests import blue  # noqa: E402
from tests import importing as monday  # noqa: E402
from tests.conftest import Api, ServerProcess, start_server, stop_server  # noqa: E402

CLOCK_STEP = 120.0  # seconds the server clock moves each cycle: past the export and start limits
BUCKET = "imports"
MB = 1024 * 1024
HEADER = ["name", "status", "email", "numeric"]
BLUE_HEADERS = ["Title", "List", "Done", "Status", "Score"]
JOB_STATUS = (
    "subscription($id: ID!) { job_status(job_id: $id) { ... on ItemsJobStatus { status } } }"
)


@dataclass
class Sample:
    cycle: int
    seconds: float
    rss_mb: float  # the server process
    workers_mb: float  # its parsing workers (its other Python children)
    s3_mb: float  # the embedded S3 endpoint's process, which keeps the bucket in memory
    fds: int
    threads: int
    children: int  # all descendants
    pg_backends: int  # client backends other than the sampler's
    scratch: int  # files and folders under the server's temporary folder
    objects: int  # objects in the bucket
    subscriptions: float  # importserver_active_subscriptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--every", type=int, default=25, help="cycles between samples")
    parser.add_argument("--warmup", type=int, default=50, help="cycles left out of the growth")
    parser.add_argument("--work-dir", type=Path, help="kept after the run (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--same-queries", action="store_true",
        help="send the same v2 query texts each round (the caches keyed by text stay warm)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    random.seed(args.seed)
    with contextlib.ExitStack() as stack:
        work = args.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        samples = asyncio.run(_soak(work, args.cycles, args.every, args.same_queries))
    _print_table(samples)
    _print_growth([s for s in samples if s.cycle >= args.warmup])
    return 0


async def _soak(work: Path, cycles: int, every: int, same_queries: bool) -> list[Sample]:
    scratch = work / "tmp"
    scratch.mkdir(exist_ok=True)
    server = start_server(work, extra_env={"TMPDIR": str(scratch)})
    samples: list[Sample] = []
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            api = Api(client)
            sampler = _Sampler(server, scratch)
            for cycle in range(cycles + 1):
                if cycle % every == 0:
                    samples.append(await sampler.sample(api, cycle, time.monotonic() - started))
                    print(_row(samples[-1]), flush=True)
                if cycle < cycles:
                    await _cycle(api, server, cycle, same_queries)
    finally:
        stop_server(server)
    return samples


async def _cycle(api: Api, server: ServerProcess, cycle: int, same_queries: bool) -> None:
    """One round of ordinary client work."""
    await api.admin("POST", "/__admin/clock", {"advance_seconds": CLOCK_STEP})
    job_id = await _monday_import(api, server, cycle, backfill=False)
    await _monday_import(api, server, cycle, backfill=True)
    for _ in range(3):
        await monday.job_status(api, job_id)
    await _blue_import(api, server, cycle)
    await _blue_export(api, server)
    await _v2_queries(api, 0 if same_queries else cycle)
    await _refused_requests(api, job_id)
    await _vanishing_sockets(server)


def _monday_csv(cycle: int, *, backfill: bool) -> str:
    if backfill:  # new items in roadmap (status, text), one invalid: a report
        rows = [[f"Soak {cycle} {n}", "Done", f"round {cycle}"] for n in range(5)]
        rows.append([f"Soak {cycle} bad", "Lost", ""])
        return monday.csv_text(["name", "status", "text"], rows)
    # the same five e-mails each round: updated in place, so `leads` and its export stay small
    rows = [[f"Soak {n}", "Done", f"soak{n}@example.com", str(cycle)] for n in range(5)]
    rows.append([f"Soak {cycle} bad", "Lost", "not an email", "x"])
    return monday.csv_text(HEADER, rows)


async def _monday_import(api: Api, server: ServerProcess, cycle: int, *, backfill: bool) -> str:
    """Start, upload and poll a small import; follow it on a job_status subscription on every
    other cycle; download its report."""
    options: dict[str, Any] = {"report": "ALL_ROWS" if cycle % 2 else None}
    if backfill:
        job = await monday.start_job(api, "200", mutation="backfill_items", **options)
    else:
        options["on_match"] = {"behaviour": "UPSERT", "match_column_id": "email"}
        job = await monday.start_job(api, "100", mutation="ingest_items", **options)
    async with contextlib.AsyncExitStack() as stack:
        if cycle % 2:
            protocol = "graphql-ws" if backfill else "graphql-transport-ws"
            ws = await stack.enter_async_context(blue.websocket(server.url, protocol))
            start = "subscribe" if protocol == "graphql-transport-ws" else "start"
            query = {"query": JOB_STATUS, "variables": {"id": job["job_id"]}}
            await ws.send_json({"id": "1", "type": start, "payload": query})
            await ws.receive_json(timeout=30)  # the state at once
        response = await monday.upload(job["upload_url"], _monday_csv(cycle, backfill=backfill))
        assert response.status_code == 200, response.text
        status = await monday.wait_for_job(api, job["job_id"])
    assert status["status"] == "COMPLETED", status
    await monday.download_report(status)
    return job["job_id"]


async def _blue_import(api: Api, server: ServerProcess, cycle: int) -> None:
    """importTodos followed over a websocket; the socket is closed cleanly on even cycles and
    left by cancelling the reader on odd ones."""
    rows = [[f"Soak todo {cycle} {n}", "Soak list", "false", "Done", str(n)] for n in range(5)]
    body = monday.csv_text(BLUE_HEADERS, rows)
    protocol = "graphql-transport-ws" if cycle % 2 else "graphql-ws"
    async with blue.websocket(server.url, protocol) as ws:
        await blue.subscribe(ws, protocol, "roadmap", "10")
        key = await blue.put_file(api, "roadmap", body)
        response = await blue.start_import(api, "roadmap", key, BLUE_HEADERS)
        assert response.json() == {"data": {"importTodos": True}}, response.text
        while (await blue.next_event(ws)).get("status") == "IN_PROGRESS":
            pass
    report = await blue.wait_for_report(api, "roadmap")
    assert report["status"] == "COMPLETE", report


async def _blue_export(api: Api, server: ServerProcess) -> None:
    async with blue.websocket(server.url, "graphql-transport-ws") as ws:
        await blue.subscribe(ws, "graphql-transport-ws", "leads", "10")
        response = await api.post('mutation { exportTodos(input: {projectId: "leads"}) }')
        assert response.json() == {"data": {"exportTodos": True}}, response.text
        while (event := await blue.next_event(ws)).get("status") == "IN_PROGRESS":
            pass
    assert event.get("status") == "COMPLETE", event


async def _v2_queries(api: Api, cycle: int) -> None:
    """Queries whose texts never repeat: caches keyed by the text must stay bounded."""
    for n in range(5):
        alias = f"b{cycle}_{n}"
        limit = 1 + (cycle * 5 + n) % 50
        await api.gql(
            f"{{ {alias}: boards(ids: [100]) {{ id name items(limit: {limit}) {{ id }} }} }}"
        )
    await api.gql("query($ids: [ID!]) { items(ids: $ids) { id name } }", {"ids": [str(cycle)]})


async def _refused_requests(api: Api, job_id: str) -> None:
    await api.post("{ me { id } }", token="tok-nobody")
    await api.post(monday.STATUS_QUERY, {"id": 12345}, token="tok-ada")
    await api.post(monday.STATUS_QUERY, {"id": job_id}, token="tok-gus")  # another account's
    await api.post("{ boards { nope } }")
    await api.post("query($b: [ID!]) { boards(ids: $b) { id } }", {"b": "x" * 300})
    await api.client.post("/graphql", content=b'{"query": "{ me {', headers=_json_auth())
    await api.post(blue.IMPORT, {"input": {"projectId": "roadmap", "s3Key": "../x", "headers": []}})


def _json_auth() -> dict[str, str]:
    return {"Authorization": "tok-ada", "Content-Type": "application/json"}


async def _vanishing_sockets(server: ServerProcess) -> None:
    """Clients that go away without a close frame: one reset mid-subscription, one that
    closes its TCP connection after subscribing, one that never sends connection_init."""
    await asyncio.to_thread(_raw_socket, server.url, subscribe=True, reset=True)
    await asyncio.to_thread(_raw_socket, server.url, subscribe=True, reset=False)
    await asyncio.to_thread(_raw_socket, server.url, subscribe=False, reset=True)


def _raw_socket(url: str, *, subscribe: bool, reset: bool) -> None:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /graphql HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
    )
    _read_until(sock, b"\r\n\r\n")
    if subscribe:
        sock.sendall(_frame({"type": "connection_init", "payload": {"Authorization": "tok-ada"}}))
        _read_until(sock, b"connection_ack")
        query = {"query": blue.SUBSCRIBE, "variables": {"p": "leads", "u": "10"}}
        sock.sendall(_frame({"id": "1", "type": "subscribe", "payload": query}))
        time.sleep(0.05)  # let the subscription start
    if reset:  # RST instead of FIN: the client's machine or network vanished
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _read_until(sock: socket.socket, marker: bytes) -> None:
    seen = b""
    while marker not in seen:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError(f"closed before {marker!r}: {seen!r}")
        seen += data


def _frame(message: dict[str, Any]) -> bytes:
    """One masked text frame, as a client must send it."""
    payload = json.dumps(message).encode()
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x81, 0x80 | length)
    else:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class _Sampler:
    def __init__(self, server: ServerProcess, scratch: Path) -> None:
        self.server = server
        self.scratch = scratch
        self.process = psutil.Process(server.process.pid)
        self.s3: Any = None

    async def sample(self, api: Api, cycle: int, seconds: float) -> Sample:
        children = self.process.children(recursive=True)
        s3 = self._s3_process()
        workers = [
            c for c in children if _is_python(c) and c.ppid() == self.process.pid and c != s3
        ]
        return Sample(
            cycle=cycle,
            seconds=seconds,
            rss_mb=self.process.memory_info().rss / MB,
            workers_mb=sum(_rss(c) for c in workers) / MB,
            s3_mb=_rss(s3) / MB,
            fds=self.process.num_fds(),
            threads=self.process.num_threads(),
            children=len(children),
            pg_backends=await self._pg_backends(),
            scratch=sum(len(d) + len(f) for _, d, f in os.walk(self.scratch)),
            objects=await asyncio.to_thread(self._objects, api),
            subscriptions=await _metric(api, "importserver_active_subscriptions"),
        )

    async def _pg_backends(self) -> int:
        rows = await monday.database_rows(
            self.server,
            "SELECT count(*) AS n FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        )
        return int(rows[0]["n"])

    def _objects(self, api: Api) -> int:
        if self.s3 is None:
            self.s3 = boto3.client(
                "s3", endpoint_url=self._s3_endpoint(), region_name=DEFAULT_REGION,
                aws_access_key_id=EMBEDDED_ACCESS_KEY, aws_secret_access_key=EMBEDDED_SECRET_KEY,
            )  # fmt: skip
        count = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            count += len(page.get("Contents", []))
        return count

    def _s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{_listening_port(self._s3_process())}"

    def _s3_process(self) -> psutil.Process:
        """The embedded S3 endpoint: the child that listens on a TCP port."""
        for child in self.process.children():
            if _listening_port(child):
                return child
        raise RuntimeError("no embedded S3 endpoint found")


def _listening_port(process: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        for conn in process.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                return int(conn.laddr.port)
    return 0


def _is_python(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return "python" in process.name().lower()
    return False


def _rss(process: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        return int(process.memory_info().rss)
    return 0


async def _metric(api: Api, name: str) -> float:
    text = (await api.client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return float("nan")


COLUMNS = [f.name for f in fields(Sample)]


def _row(sample: Sample) -> str:
    return "".join(_cell(value) for value in asdict(sample).values())


def _cell(value: float) -> str:
    return f"{value:>14.1f}" if isinstance(value, float) else f"{value:>14}"


def _print_table(samples: list[Sample]) -> None:
    print()
    print("".join(f"{name:>14}" for name in COLUMNS))
    for sample in samples:
        print(_row(sample))


def _print_growth(samples: list[Sample]) -> None:
    """Each figure's least-squares slope over the samples after the warm-up, per 100 cycles."""
    if len(samples) < 2:
        print("too few samples after the warm-up to measure growth")
        return
    print("".join(f"{'/100 cycles' if n == 'cycle' else '':>14}" for n in COLUMNS[:1]), end="")
    xs = [float(s.cycle) for s in samples]
    for name in COLUMNS[1:]:
        ys = [float(getattr(s, name)) for s in samples]
        print(_cell(100 * _slope(xs, ys)), end="")
    print()


def _slope(xs: list[float], ys: list[float]) -> float:
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


if __name__ == "__main__":
    sys.exit(main())
