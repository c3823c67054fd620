"""The one-pass stream of a flat file plans exactly what the scan-then-plan passes plan, and
what crosses to the parsing worker process survives pickling."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.imports import copyformat, csvfile, planning, worker
from server.imports.rows import RowParser
from server.imports.worker import ParserSpec
from server.imports.writer import PlannedRow
from tests.test_cells import COLUMNS, DIRECTORY

BOARD_COLUMNS = {column.id: column for column in COLUMNS.values()}
HEADER = ["name", "numeric", "status", "email"]
CELLS = {
    "name": st.sampled_from(["Acme", "Globex", "Acme", "", " ", "Initech, Inc", "<NULL>"]),
    "numeric": st.sampled_from(["1", "2.5", "x", "", "<NULL>"]),
    "status": st.sampled_from(["Done", "Stuck", "Nope", ""]),
    "email": st.sampled_from(["a@acme.io", "b@acme.io", "not an email", "", "a@acme.io"]),
}
ROWS = st.lists(st.tuples(*(CELLS[h] for h in HEADER)), max_size=40)
# a file's rows, how they match, the lines written before, whether the first pass's records
# are reused or the file read again
FILES = given(
    rows=ROWS,
    behaviour=st.sampled_from([None, "UPSERT", "SKIP", "UPDATE"]),
    done=st.sets(st.integers(2, 45), max_size=5),
    reread=st.booleans(),
)


def make_parser(header_cells: list[str]) -> RowParser:
    header = csvfile.parse_header(header_cells, {c: c for c in BOARD_COLUMNS}, 1)
    return RowParser(header, BOARD_COLUMNS, DIRECTORY, clear_with_null=True)


def plan_of(parser: RowParser, scan: planning.Scan, behaviour: str | None) -> planning.Plan:
    # existing items the rows may match: one key once, one key twice
    matches: dict[str, list[int | str]] = {"a@acme.io": [7], "b@acme.io": [8, 9]}
    return planning.Plan(
        job=None, board=None, parser=parser, scan=scan, behaviour=behaviour,  # type: ignore[arg-type]
        match_column="email" if behaviour else None, matches=matches if behaviour else {},
    )  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@FILES
def test_streaming_plans_what_scan_then_plan_plans(
    tmp_path: Path,
    rows: list[tuple[str, ...]],
    behaviour: str | None,
    done: set[int],
    reread: bool,
) -> None:
    path = tmp_path / "file.csv"
    path.write_text(csvfile_text(rows), encoding="utf-8")
    scan, parser = planning.scan_file(path, make_parser, 1000)
    two_pass = [
        r for c in planning.plan_chunks(plan_of(parser, scan, behaviour), path, done) for r in c
    ]
    counted = planning.count_rows(path, make_parser, 1000)
    streamed_scan = planning.Scan(header=counted.parser.header)
    plan = plan_of(counted.parser, streamed_scan, behaviour)
    # the records the first pass kept, or (as for a large file) the file read again
    assert counted.records is not None
    kept = None if reread else counted.records
    streamed = [r for c in planning.stream_chunks(plan, path, done, kept) for r in c]
    assert counted.total == scan.total
    assert streamed == two_pass
    assert streamed_scan.invalid == scan.invalid


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@FILES
def test_encoded_chunks_hold_what_planned_chunks_plan(
    tmp_path: Path,
    rows: list[tuple[str, ...]],
    behaviour: str | None,
    done: set[int],
    reread: bool,
) -> None:
    """A flat file's chunks as the worker encodes them: the created rows' COPY tails and the
    other rows as planned, chunk for chunk, matched by key or not."""
    path = tmp_path / "file.csv"
    path.write_text(csvfile_text(rows), encoding="utf-8")
    tail = copyformat.ItemTail(board_id=1, group_id="topics", creator_id=7)
    parser = planning.count_rows(path, make_parser, 1000).parser
    planned = list(
        planning.stream_chunks(
            plan_of(parser, planning.Scan(header=parser.header), behaviour), path, done
        )
    )
    counted = planning.count_rows(path, make_parser, 1000)
    plan = plan_of(counted.parser, planning.Scan(header=counted.parser.header), behaviour)
    kept = None if reread else counted.records
    encoded = list(worker.encoded_chunks(plan, tail, path, done, kept))
    assert len(encoded) == len(planned)
    for chunk, rows_planned in zip(encoded, planned, strict=True):
        created = [r for r in rows_planned if r.status == "created"]
        assert chunk.lines == [r.line for r in created]
        assert chunk.tails == [tail.encode(r.name, r.document or b"") for r in created]
        assert chunk.others == [r for r in rows_planned if r.status != "created"]
        assert chunk.last_line == rows_planned[-1].line


def csvfile_text(rows: list[tuple[str, ...]]) -> str:
    def quoted(cell: str) -> str:
        return f'"{cell}"' if "," in cell else cell

    return "\n".join([",".join(HEADER), *(",".join(map(quoted, row)) for row in rows)]) + "\n"


def test_a_file_over_the_row_limit_is_rejected_by_the_first_pass(tmp_path: Path) -> None:
    path = tmp_path / "file.csv"
    path.write_text("name\n" + "row\n" * 4, encoding="utf-8")
    with pytest.raises(planning.Rejection) as caught:
        planning.count_rows(path, make_parser, 3)
    assert caught.value.reason == "INVALID_UPLOAD"
    assert planning.count_rows(path, make_parser, 4).total == 4


def test_a_hierarchy_is_not_streamed(tmp_path: Path) -> None:
    flat = csvfile.parse_header(["name", "status"], {"status": "status"}, 2)
    deep = csvfile.parse_header(["name.l1", "name.l2"], {}, 2)
    assert planning.can_stream(flat)
    assert not planning.can_stream(deep)
    # so the first pass does not read its rows: the full scan after it does (and finds this)
    path = tmp_path / "file.csv"
    path.write_text('name.l1,name.l2\nA,\n"unterminated\n', encoding="utf-8")

    def two_levels(cells: list[str]) -> RowParser:
        header = csvfile.parse_header(cells, {}, 2)
        return RowParser(header, BOARD_COLUMNS, DIRECTORY, clear_with_null=False)

    counted = planning.count_rows(path, two_levels, 1000)
    assert counted.total is None and counted.records is None
    with pytest.raises(csvfile.InvalidUpload):
        planning.scan_file(path, two_levels, 1000)


def test_what_the_worker_raises_and_takes_survives_pickling() -> None:
    rejection = pickle.loads(pickle.dumps(planning.Rejection("FILE_TOO_LARGE", "too big")))
    assert (rejection.reason, rejection.message) == ("FILE_TOO_LARGE", "too big")
    invalid = pickle.loads(pickle.dumps(csvfile.InvalidUpload("Line 3 is bad")))
    assert invalid.message == "Line 3 is bad"
    spec = ParserSpec(
        columns=BOARD_COLUMNS, directory=DIRECTORY, hierarchy_levels=1,
        options={"on_match": {"behaviour": "UPSERT", "match_column_id": "email"}},
    )  # fmt: skip
    copy = pickle.loads(pickle.dumps(spec))
    assert copy.match_column == "email"
    assert copy.make_parser(HEADER).header == spec.make_parser(HEADER).header


def test_chunks_grow_to_the_row_cap_or_end_at_the_byte_cap() -> None:
    def rows(n: int, cell_bytes: int) -> Iterator[PlannedRow]:
        return (
            PlannedRow(line=i + 2, cells=["x" * cell_bytes], status="created") for i in range(n)
        )

    assert (planning.FIRST_CHUNK_ROWS, planning.CHUNK_ROWS) == (250, 1000)
    small = [len(c) for c in planning.chunked(rows(2 * 1000 + 750 + 1, 10), planning.planned_size)]
    assert small == [250, 500, 1000, 1000, 1]
    long_cell = -(-planning.CHUNK_BYTES // 10)  # ten such rows fill a chunk
    assert [len(c) for c in planning.chunked(rows(25, long_cell), planning.planned_size)] == [
        10,
        10,
        5,
    ]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=ROWS,
    done=st.sets(st.integers(2, 45), max_size=5),
    chunk_rows=st.integers(1, 7),
    first_rows=st.integers(1, 7),
    parts=st.integers(2, 3),
)
def test_parts_of_a_stream_plan_what_one_stream_plans(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[tuple[str, ...]],
    done: set[int],
    chunk_rows: int,
    first_rows: int,
    parts: int,
) -> None:
    monkeypatch.setattr(planning, "CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(planning, "FIRST_CHUNK_ROWS", first_rows)  # chunks of several sizes
    path = tmp_path / "file.csv"
    path.write_text(csvfile_text(rows), encoding="utf-8")
    parser = planning.count_rows(path, make_parser, 1000).parser
    whole = planning.Scan(header=parser.header)
    one = list(planning.stream_chunks(plan_of(parser, whole, None), path, done))
    scans = [planning.Scan(header=parser.header) for _ in range(parts)]
    shares = [
        list(planning.stream_chunks(plan_of(parser, scan, None), path, done, part=k, parts=parts))
        for k, scan in enumerate(scans)
    ]
    # the server takes chunk i from part i % parts
    assert [shares[i % parts][i // parts] for i in range(len(one))] == one
    assert sum(map(len, shares)) == len(one)
    assert {line: e for scan in scans for line, e in scan.invalid.items()} == whole.invalid
    assert sum(len(scan.invalid) for scan in scans) == len(whole.invalid)  # each row once


def test_a_created_row_planned_again_is_created_again(tmp_path: Path) -> None:
    # a refused chunk's created rows are planned again (`worker.replan`) against matches that
    # hold their own keys by now: a row is not matched to itself
    path = tmp_path / "file.csv"
    path.write_text(csvfile_text([("New", "1", "Done", "n@acme.io")] * 2), encoding="utf-8")
    counted = planning.count_rows(path, make_parser, 1000)
    plan = plan_of(counted.parser, planning.Scan(header=counted.parser.header), "UPSERT")
    first, second = next(planning.stream_chunks(plan, path, set(), counted.records))
    assert (first.status, second.status, second.match_line) == ("created", "updated", first.line)
    again = planning.plan_row(plan, first.line, first.cells, None)
    assert (again.status, again.match_line) == ("created", None)
    assert planning.plan_row(plan, second.line, second.cells, None) == second
