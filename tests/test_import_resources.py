"""Files that make an import work hard: the server keeps answering while it writes a report
with a long cell, and the parsing worker reads a long line without copying it over and over."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

from server.imports import blue, csvfile, planning, processing, report
from server.store.jobs import RowResult
from tests.conftest import Api
from tests.importing import download_report, run_import


class _Writes(io.StringIO):
    """A text file that remembers the longest single write."""

    longest = 0

    def write(self, text: str) -> int:
        self.longest = max(self.longest, len(text))
        return super().write(text)


def test_a_long_cell_is_written_to_the_report_a_slice_at_a_time() -> None:
    # the csv module wrote the report's row in one call holding the interpreter lock: a
    # 100 MB cell held the event loop 3.4 s (fetch_job_status and /healthz unanswered)
    cell = 'say "x", ' * (3 * report.QUOTE_SLICE // 9)
    out = _Writes(newline="")
    writer = report.Report(out, ["name", "text"])
    row = RowResult(line=2, status="invalid", item_id=None, errors=[], cells=[cell, "kept"])
    writer.write_rows([row])
    assert out.longest <= 2 * report.QUOTE_SLICE  # each quote doubled at most
    [_, written] = list(csv.reader(io.StringIO(out.getvalue())))
    assert written[:4] == [cell, "kept", "2", "invalid"]


async def test_a_report_holds_a_long_cell_whole(api: Api) -> None:
    cell = "x" * (2 * 1024 * 1024)
    status = await run_import(api, f"name,text\n{cell},kept\n")
    assert status["counts"]["invalid"] == 1, status
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


def test_a_row_of_many_empty_cells_is_a_chunk_of_its_own() -> None:
    # counted by characters alone, a row of a million empty cells weighed nothing: a chunk
    # of 40 of them grew the parsing worker by 733 MB and the server by 426 MB
    wide = (2, [""] * 300_000)
    chunks = list(planning.chunked([wide] * 5, planning._record_size))
    assert [len(chunk) for chunk in chunks] == [1] * 5
    narrow = (2, ["Ada", "ada@example.com", "1"])
    assert [len(c) for c in planning.chunked([narrow] * 600, planning._record_size)] == [250, 350]


async def test_a_report_is_read_a_page_at_a_time() -> None:
    # every row result of the job was loaded at once: 10,000 invalid rows of 14 KB grew the
    # server by 209 MB (36 MB now); a page holds one row of a million cells, or 500 rows
    stored = [
        RowResult(line=line, status="invalid", item_id=None, errors=[], cells=cells)
        for line, cells in [(2, [""] * 300_000), (3, ["a"]), (4, [""] * 300_000)]
        + [(line, ["b", "c"]) for line in range(5, 1500)]
    ]

    class Jobs:
        async def row_results_page(
            self, job_id: object, *, clean: bool, lines: range, limit: int
        ) -> list[RowResult]:
            return [r for r in stored if r.line in lines][:limit]

    services = SimpleNamespace(jobs=Jobs())
    job = SimpleNamespace(id=None)
    pages = [
        [r.line for r in page]
        async for page in processing._report_pages(  # type: ignore[arg-type]
            services, job, clean=False, lines=range(10)
        )
    ]
    assert [line for page in pages for line in page] == list(range(2, 10))
    assert [2, 4] not in [[line for line in page if line in (2, 4)] for page in pages]
    sizes = [
        len(page)
        async for page in processing._report_pages(  # type: ignore[arg-type]
            services, job, clean=False, lines=range(2000)
        )
    ]
    assert sum(sizes) == len(stored) and max(sizes) == processing.REPORT_PAGE_ROWS


def test_blue_records_of_many_tags_are_chunked_by_weight(tmp_path: Path) -> None:
    # chunks were of 500 records whatever their tags: 500 records of 2,000 tags were a
    # million names for the server to unpickle, its event loop held 0.5 s (1 s before the
    # pairs were inserted in batches) and the server at 831 MB (154 MB now)
    path = tmp_path / "tags.csv"
    tags = ",".join(f"t{i}" for i in range(2000))
    path.write_text("Title,Tags\n" + "".join(f'Todo {r},"{tags}"\n' for r in range(300)))
    header = blue.HeaderMap(
        fields={0: "Title", 1: "Tags"}, columns={}, currency_types=set(), unknown=[],
        headers=["Title", "Tags"],
    )  # fmt: skip
    chunks = list(blue.record_chunks(path, header, {}, blue.People([]), set()))
    assert sum(map(len, chunks)) == 300 and len(chunks[0][-1].tags) == 2000
    assert max(map(len, chunks)) < 150
