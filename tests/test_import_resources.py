"""Files that make an import work hard: the server keeps answering while it writes a report
with a long cell, and the parsing worker reads a long line without copying it over and over."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

from server.imports import csvfile
from tests.conftest import Api
from tests.importing import download_report, run_import

LATE = "0.5"  # seconds: an event loop wake-up later than this is a stall a client sees


async def late_wakeups(api: Api) -> int:
    """Wake-ups of the server's event loop later than LATE since it started (GET /metrics)."""
    text = (await api.client.get("/metrics")).text
    count = re.search(r"^importserver_event_loop_lag_seconds_count (\S+)$", text, re.M)
    within = re.search(
        rf'^importserver_event_loop_lag_seconds_bucket\{{le="{LATE}"\}} (\S+)$', text, re.M
    )
    assert count is not None and within is not None, text
    return int(float(count[1])) - int(float(within[1]))


async def test_a_report_with_a_long_cell_keeps_the_server_answering(api: Api) -> None:
    # the csv module wrote the report's row in one call holding the interpreter lock: a
    # 100 MB cell held the event loop 3.4 s, this one about 1 s
    cell = "x" * (30 * 1024 * 1024)
    before = await late_wakeups(api)
    status = await run_import(api, f"name,text\n{cell},kept\n")
    assert status["counts"]["invalid"] == 1, status
    assert await late_wakeups(api) == before
    [row] = await download_report(status)
    assert (len(row["name"]), row["text"], row["__errors"][:20]) == (
        len(cell),
        "kept",
        "name: NAME_TOO_LONG:",
    )


def test_a_long_line_is_read_without_copies(tmp_path: Path) -> None:
    # each block of a line without a line end was joined to the ones before it (a 100 MB
    # line took 5.8 s), and io.StringIO copied the line at 4 bytes a character: the reading
    # peaked at 12 times the line, 9 now (the csv module's field buffer is most of that)
    size = 16 * 1024 * 1024
    path = tmp_path / "long.csv"
    path.write_bytes(b"name,text\nrow," + b"x" * size + b"\n")
    tracemalloc.start()
    try:
        records = [(line, len(cells[1])) for line, cells in csvfile.read_records(path)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert records == [(1, 4), (2, size)]
    assert peak < 10.5 * size, peak / size
