"""Where the schema's floor goes: `python -m bench.floor [--rounds N]` from the repository root.

The main bench measures the floor of the server's schema (COPY of finished rows into `items`)
as one figure. This one takes it apart: the items one backfill wrote are COPYed, 1,000 rows
a committed transaction as an import writes them, into fresh tables that add one part of
`items` at a time (its primary key, its board indexes, its statement-level reference
trigger), and into variants that leave one cost out (the values document as `text`, which
PostgreSQL does not parse; an unlogged table, which writes no WAL). The variants run in turn
within each round, so a slow phase of the machine hits them alike; it prints each one's
median over the rounds next to raw COPY of the same CSV in the same run (about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the helpers in tests/ start and drive the server
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench import data  # noqa: E402
from bench import measure as m  # noqa: E402
from tests.conftest import Api, start_server, stop_server  # noqa: E402
from tests.importing import postgres_socket  # noqa: E402

CHUNK = 1000  # rows a transaction, as the import writes
TRIGGER = (
    "CREATE TRIGGER refs AFTER INSERT ON {t} REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION items_check_inserted()"
)
# (label, DDL after `CREATE TABLE {t} (LIKE items ...)`), each a step from the one before,
# then the variants that leave one cost out of the whole
VARIANTS: list[tuple[str, str, str]] = [
    ("heap only: no key, index or trigger", "", ""),
    ("+ primary key", "", "ALTER TABLE {t} ADD PRIMARY KEY (id)"),
    ("+ the board and group indexes (all of items')", "INCLUDING ALL", ""),
    ("+ the reference trigger (items' shape)", "INCLUDING ALL", TRIGGER),
    ("  the same, values document as text", "INCLUDING ALL",
     TRIGGER + "; ALTER TABLE {t} ALTER column_values TYPE text"),
    ("  the same, unlogged (no WAL)", "INCLUDING ALL", TRIGGER + "; ALTER TABLE {t} SET UNLOGGED"),
    ("  the same, logged, commits not waited for", "INCLUDING ALL", TRIGGER),
]  # fmt: skip


async def load(
    conn: asyncpg.Connection, table: str, names: list[str], chunks: list[bytes], wait: bool
) -> float:
    await conn.execute(f"TRUNCATE {table}")
    started = time.monotonic()
    for payload in chunks:
        async with conn.transaction():
            if not wait:
                await conn.execute("SET LOCAL synchronous_commit = off")
            await conn.copy_to_table(
                table, source=io.BytesIO(payload), columns=names, format="binary"
            )
    return time.monotonic() - started


async def measure(
    server_url: str, inputs: data.Inputs, rounds: int, socket: tuple[str, int]
) -> str:
    async with httpx.AsyncClient(base_url=server_url, timeout=120) as client:
        api = Api(client)
        await api.load_fixture(data.fixture())
        board = data.BOARDS["create"]
        await m.monday_run(api, "backfill", board, inputs.main, mutation="backfill_items")
    conn = await asyncpg.connect(
        host=socket[0], port=socket[1], user="postgres", database="postgres"
    )
    try:
        names = await m.item_columns(conn)
        rows = await conn.fetchval("SELECT count(*) FROM items WHERE board_id = $1", board)
        chunks = await m.item_chunks(conn, board, ", ".join(names), rows, CHUNK)
        tables = []
        for number, (_, like, ddl) in enumerate(VARIANTS):
            table = f"bench_floor_{number}"
            tables.append(table)
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
            await conn.execute(f"CREATE TABLE {table} (LIKE items {like})")
            for statement in filter(None, ddl.format(t=table).split("; ")):
                await conn.execute(statement)
        seconds: list[list[float]] = [[] for _ in VARIANTS]
        copies = []
        for _ in range(rounds):
            copies.append((await m.copy_rows_per_second(conn, inputs.main, len(data.HEADER)))[0])
            for number, table in enumerate(tables):
                wait = "not waited" not in VARIANTS[number][0]
                seconds[number].append(await load(conn, table, names, chunks, wait))
        for table in tables:
            await conn.execute(f"DROP TABLE {table}")
    finally:
        await conn.close()
    copy = statistics.median(copies)
    lines = [
        f"{rows:,} items of a backfill, {len(chunks)} COPYs of up to {CHUNK:,} rows, each committed; "
        f"median of {rounds} rounds",
        f"{'':<48}{'rows/s':>9}{'µs/row':>8}{'vs COPY':>9}",
        f"{'raw COPY of the CSV into a text table':<48}{copy:>9,.0f}{1e6 / copy:>8.1f}{'100%':>9}",
    ]
    for (label, _, _), times in zip(VARIANTS, seconds, strict=True):
        rate = rows / statistics.median(times)
        lines.append(f"{label:<48}{rate:>9,.0f}{1e6 / rate:>8.1f}{rate / copy:>9.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of all variants (5)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="import-bench-floor-"))
    server = None
    try:
        inputs = data.generate(work / "inputs")
        (work / "server").mkdir()
        server = start_server(work / "server")
        print(asyncio.run(measure(server.url, inputs, args.rounds, postgres_socket(server))))
        return 0
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
