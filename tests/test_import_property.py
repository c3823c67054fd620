"""Property tests of the import path through the real API: random CSV files (random and invalid
bytes in cells, odd quoting, BOMs, mixed line endings, very long cells, empty, duplicate and
unknown headers) imported with monday's ingest_items / backfill_items and Blue's importTodos.

Whatever the file, the job ends (COMPLETED or REJECTED INVALID_UPLOAD for monday, COMPLETE or
ERROR with a reason for Blue), its counts add up (every data row is written or reported), and
the server logs no traceback. tests/test_csvfile_property.py checks the reader alone, in
process; this drives the whole path, the parsing worker and the writer included.

A few derandomized examples run in the suite (well under a minute); set
IMPORT_FUZZ_EXAMPLES=200 (per test) and IMPORT_FUZZ_SEED=<int> to fuzz at length.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from server.imports import csvfile
from tests import blue, importing
from tests.conftest import Api, ServerProcess

# a failing file of thousands of rows: hypothesis warns that its repr is large as it prints
# it, and that warning, an error in this suite, would hide the failure
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

EXAMPLES = int(os.environ.get("IMPORT_FUZZ_EXAMPLES", "6"))  # per test
SEED = int(os.environ["IMPORT_FUZZ_SEED"]) if os.environ.get("IMPORT_FUZZ_SEED") else None
# the failures the server logs: an exception of its own, or a Blue import that ended on one
LOG_MARKERS = ["Traceback (most recent call last)", "internal error", "Internal error ("]

BLUE_ERRORS_SHOWN = 1000  # failed rows todoImportReport.errors lists at most
T = TypeVar("T")

MONDAY_HEADERS = ["name", "text", "status", "numeric", "email", "date", "dropdown", "budget"]
# the demo's three-level board (Roadmap): a row names one level, under the row above it
ROADMAP_HEADERS = ["name.l1", "name.l2", "name.l3", "name", "name.l4", "status", "text"]
BLUE_HEADERS = [
    "Title", "List", "Done", "Due Date", "Start Date", "Description", "Tags", "Assignees",
    "Status", "Score", "Email", "Notes", "Budget", "Currency Types", "Mood", "",
]  # fmt: skip
ODD_CELLS = [
    "", " ", "Done", "Stuck", "Working on it", "42", "-1.5", "1e400", "NaN", "2024-02-30",
    "2024-01-01", "0001-01-01", "a@b.co", "not an email", "Option A, Option B", "true", "maybe",
    '"', '""', ",", "\n", "\r\n", "\r", "\t", "\x00", "\ufeff", "=1+1", "'=1", "\u2028",
    "é漢字🎉", "x" * 3000, "y" * 70_000, "Ada Admin", "ada@acme.example.com",
]  # fmt: skip
# bytes spliced into the encoded file: invalid UTF-8, a BOM in the middle, NUL, stray quotes
ODD_BYTES = [b"\xff", b"\xc3", b"\xe2\x82", b"\xef\xbb\xbf", b"\x00", b'"', b"\r", b"\n", b","]

cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(ODD_CELLS),
    st.binary(max_size=8).map(lambda b: b.decode("latin-1")),
)


@st.composite
def csv_files(draw: st.DrawFn, headers: list[str], first: str | None) -> bytes:
    """A CSV file: a header drawn from `headers` (`first` first, if given, mostly), some rows,
    written with a random quoting style and line ending per row, then perhaps damaged."""
    names = draw(st.lists(st.sampled_from(headers), min_size=1, max_size=6, unique=True))
    if first is not None and draw(st.integers(0, 4)) > 0:
        names = [first, *[n for n in names if n != first]]
    if draw(st.integers(0, 5)) == 0:  # a duplicate, unknown, empty or padded header
        names.append(draw(st.sampled_from([names[0], "Unknown", "", f" {names[-1]} ", "NAME"])))
    width = len(names)
    rows = draw(
        st.lists(
            st.lists(cells, min_size=max(0, width - 1), max_size=width + 1), min_size=0, max_size=8
        )
    )
    # now and then many rows (a few drawn ones over and over): chunks of 250, 500 and 1,000
    # rows (monday) and of 500 records (Blue) end inside the file
    rows = rows * draw(st.sampled_from([1, 1, 1, 1, 1, 130, 700]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, None]))
    out = io.StringIO()
    for record in [names, *rows]:
        ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        if quoting is None:  # no quoting at all: a comma or quote in a cell breaks the record
            out.write(",".join(record) + ending)
        else:
            csv.writer(out, quoting=quoting, lineterminator=ending).writerow(record)
    data = out.getvalue().encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    for _ in range(draw(st.integers(0, 2) if draw(st.integers(0, 2)) == 0 else st.just(0))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(ODD_BYTES)) + data[at:]
    return data


monday_options = st.fixed_dictionaries(
    {},
    optional={
        "report": st.just("ALL_ROWS"),
        "dry_run": st.booleans(),
        "ignore_empty": st.booleans(),
        "character_encoding": st.sampled_from(
            ["utf-8", "UTF8", "latin-1", "cp1252", "utf-16", "utf-16-le", "shift_jis", "utf-7"]
        ),
        "field_mappings": st.lists(
            st.fixed_dictionaries(
                {"column_id": st.sampled_from(["name", "id", *MONDAY_HEADERS])},
                optional={
                    "index": st.integers(-1, 7) | st.just(2**31 - 1),
                    "default_value": st.none() | cells,
                },
            ),
            max_size=5,
        ),
        "on_match": st.fixed_dictionaries(
            {
                "match_column_id": st.sampled_from(["name", "text", "email", "id", "status"]),
                "behaviour": st.sampled_from(["UPSERT", "SKIP", "UPDATE"]),
            }
        ),
    },
)


def clipped(data: bytes) -> bytes:
    """A file as an assertion shows it: a long one cut."""
    return data if len(data) <= 2000 else data[:2000] + b"..."


def read_file(data: bytes, encoding: str | None = None) -> list[tuple[int, list[str]]] | str:
    """The file's records (line, cells) as the server's reader reads them (after transcoding
    from `encoding` to UTF-8), or why it refuses the file."""
    if encoding is not None:
        try:
            data = data.decode(encoding).encode("utf-8")
        except UnicodeError as exc:
            return str(exc)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.csv"
        path.write_bytes(data)
        try:
            return list(csvfile.read_records(path))
        except csvfile.InvalidUpload as exc:
            return exc.message


def run(server: ServerProcess, body: Callable[[Api], Coroutine[Any, Any, T]]) -> T:
    """`body` with a client of the server, on a loop of its own (hypothesis calls the test
    synchronously), after a reset: the imports of one example never meet another's."""

    async def main() -> T:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client)
            reset = await api.admin("POST", "/__admin/reset")
            assert reset.status_code == 200, reset.text
            return await body(api)

    return asyncio.run(main())


async def start(
    api: Api, board: str, mutation: str, options: dict[str, Any]
) -> dict[str, str] | None:
    """Start the job with `options`, or None if the API refuses them with BAD_USER_INPUT
    (field mappings that map a column twice, say); any other error fails the test."""
    declared = "".join(f", ${name}: {importing.OPTION_TYPES[name]}" for name in options)
    arguments = "".join(f", {name}: ${name}" for name in options)
    query = f"""mutation($b: ID!, $g: String!{declared}) {{
        {mutation}(board_id: $b, group_id: $g{arguments}) {{ job_id upload_url }} }}"""
    body = (await api.post(query, {"b": board, "g": "topics", **options})).json()
    if body.get("errors"):
        codes = {(error.get("extensions") or {}).get("code") for error in body["errors"]}
        assert codes == {"BAD_USER_INPUT"}, (options, body)
        return None
    return dict(body["data"][mutation])


async def items_of(server: ServerProcess, board: str) -> int:
    """The board's active items of every level, read from the database."""
    rows = await importing.database_rows(
        server, "SELECT count(*) FROM items WHERE board_id = $1 AND state = 'active'", int(board)
    )
    return int(rows[0][0])


def assert_no_failure_logged(server: ServerProcess, start: int, what: object) -> None:
    logged = server.log()[start:]
    for marker in LOG_MARKERS:
        assert marker not in logged, (what, logged[max(0, logged.index(marker) - 2000) :][:6000])


def fuzz_settings(test: Callable[..., None]) -> Callable[..., None]:
    chosen = settings(
        max_examples=EXAMPLES,
        derandomize=SEED is None,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )(test)
    return seed(SEED)(chosen) if SEED is not None else chosen


def test_any_monday_file_ends_with_every_row_written_or_reported(server: ServerProcess) -> None:
    @fuzz_settings
    @given(
        case=st.tuples(st.just("100"), csv_files([*MONDAY_HEADERS, "name", "name", "id"], "name"))
        | st.tuples(st.just("200"), csv_files(ROADMAP_HEADERS, "name.l1")),
        mutation=st.sampled_from(["ingest_items", "backfill_items"]),
        options=monday_options,
    )
    def imports(case: tuple[str, bytes], mutation: str, options: dict[str, Any]) -> None:
        board, data = case
        log_start = len(server.log())
        read = read_file(data, options.get("character_encoding"))
        if mutation == "backfill_items":  # ingest's alone
            options = {k: v for k, v in options.items() if k not in ("on_match", "ignore_empty")}
        all_rows = options.get("report") == "ALL_ROWS" or bool(options.get("dry_run"))

        async def body(api: Api) -> tuple[dict[str, Any], int, list[dict[str, str]]]:
            before = await items_of(server, board)
            started = await start(api, board, mutation, options)
            if started is None:  # options the API refused: no job
                return {"status": "REFUSED"}, 0, []
            assert (await importing.upload(started["upload_url"], data)).status_code == 200
            status = await importing.wait_for_job(api, started["job_id"])
            created = await items_of(server, board) - before
            report = await importing.download_report(status) if status["report_created"] else []
            return status, created, report

        status, created, report = run(server, body)
        what = (board, clipped(data), mutation, options, status)
        event(f"{status['status']} {status.get('failure_reason') or ''}")
        if status["status"] == "REFUSED":
            assert_no_failure_logged(server, log_start, what)
            return
        assert status["status"] in ("COMPLETED", "REJECTED"), what
        counts = status["counts"]
        if status["status"] == "REJECTED":
            assert status["failure_reason"] == "INVALID_UPLOAD", what
            assert status["failure_message"], what
            assert created == 0 and counts["created"] == counts["updated"] == 0, what
        else:
            assert not isinstance(read, str), (what, read)  # the reader refused it
            lines = [line for line, _ in read[1:]]
            assert counts["submitted"] == len(lines), (what, read)
            outcomes = ("invalid", "skipped", "created", "updated", "failed")
            assert sum(counts[name] for name in outcomes) == counts["submitted"], what
            assert created == (0 if options.get("dry_run") else counts["created"]), what
            reported = sorted(int(row["__line"]) for row in report)
            if all_rows:
                assert reported == lines, (what, report)
            else:
                unwritten = counts["invalid"] + counts["skipped"] + counts["failed"]
                assert len(reported) == unwritten, (what, report)
                assert set(reported) <= set(lines), (what, report)
        assert_no_failure_logged(server, log_start, what)

    imports()


def test_any_blue_file_ends_with_every_record_imported_or_reported(
    server: ServerProcess,
) -> None:
    @fuzz_settings
    @given(
        data=csv_files(BLUE_HEADERS, None),
        headers=st.lists(st.sampled_from(BLUE_HEADERS[:-1]), min_size=1, max_size=6),
        extra=st.fixed_dictionaries(
            {}, optional={"useRustImport": st.booleans(), "dryRun": st.booleans()}
        ),
    )
    def imports(data: bytes, headers: list[str], extra: dict[str, bool]) -> None:
        log_start = len(server.log())
        read = read_file(data)

        async def body(api: Api) -> tuple[dict[str, Any], int]:
            before = await items_of(server, "100")
            key = await blue.put_file(api, "leads", data)
            response = await blue.start_import(api, "leads", key, headers, **extra)
            assert response.json() == {"data": {"importTodos": True}}, response.text
            report = await blue.wait_for_report(api, "leads")
            return report, await items_of(server, "100") - before

        report, created = run(server, body)
        what = (clipped(data), headers, extra, report)
        event(f"{report['status']}, {'some' if report['failed'] else 'no'} failed rows")
        assert report["status"] in ("COMPLETE", "ERROR"), what
        if report["status"] == "ERROR":
            assert report["error"], what
            assert isinstance(read, str), what  # only a file the reader refuses ends so
        else:
            assert not isinstance(read, str), (what, read)
            assert report["error"] is None, what
            assert report["imported"] + report["failed"] <= report["total"], what
            assert report["total"] <= len(read), (what, read)
            assert created == (0 if extra.get("dryRun") else report["imported"]), what
            failed_lines = {error["line"] for error in report["errors"]}
            assert len(failed_lines) == min(report["failed"], BLUE_ERRORS_SHOWN), what
            assert failed_lines <= {line for line, _ in read}, (what, read)
        assert_no_failure_logged(server, log_start, what)

    imports()
