"""A job leaves no reference cycle in the parsing worker. The worker collects garbage rarely
(`worker.GC_THRESHOLDS`): a job's state caught in a cycle (its parser, memos, scan and plan)
stayed in the worker's memory long after the job, and the soak run's parsing worker grew about
2 MB per 100 rounds. The calls are the worker's own, made in this process."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from server.imports import cells, rows, worker
from server.imports.worker import ParserSpec
from tests.test_cells import COLUMNS, DIRECTORY

BOARD_COLUMNS = {column.id: column for column in COLUMNS.values()}
# an invalid e-mail: email_validator raises, and the CellError is raised while handling it
ROWS = [
    "name,numeric,status,email",
    "Acme,1,Done,a@acme.io",
    "Globex,x,Nope,not an email",
    "Initech,2,Done,not an email",
]
UPSERT = {"on_match": {"behaviour": "UPSERT", "match_column_id": "email"}}
JOB = SimpleNamespace(board_id=100, group_id="topics", user_id=1)


def cycles_left(run: Callable[[], None]) -> int:
    """Objects in reference cycles that `run` leaves behind; its first call is a warm-up (it
    fills module-level caches, which are not the job's)."""
    run()
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        run()
        return gc.collect()
    finally:
        if enabled:
            gc.enable()


def _drain(token: str) -> None:
    while (chunk := worker.next_chunk(token)) is not None:
        chunk.unlink()


@pytest.mark.parametrize(
    ("options", "streamed"),
    [({}, True), (UPSERT, True), (UPSERT, False)],
    ids=["create-streamed", "upsert-streamed", "upsert-scanned"],
)
def test_an_import_leaves_no_cycle_in_the_worker(
    tmp_path: Path, options: dict[str, object], streamed: bool
) -> None:
    path = tmp_path / "upload.csv"
    path.write_text("\n".join(ROWS) + "\n")
    spec = ParserSpec(
        columns=BOARD_COLUMNS, directory=DIRECTORY, hierarchy_levels=1, options=options
    )
    invalid: list[int] = []

    def run() -> None:
        # the calls processing.py makes for a flat file, then `close` as its job ends
        token = "job:1"
        if streamed:
            worker.count(token, path, spec, 100)
            worker.stream(token, JOB, None, {}, set())
        else:
            worker.scan(token, path, spec, 100)
            worker.count_creates(token, JOB, None, {})
            worker.plan(token, JOB, None, {}, set())
        _drain(token)
        invalid.append(worker.invalid_rows(token))
        worker.close(token)

    assert cycles_left(run) == 0
    assert invalid == [2, 2]


def test_a_blue_cell_parser_leaves_no_cycle() -> None:
    codes: list[str] = []

    def run() -> None:
        # as `worker.open_records` parses a Blue file's cells: the second parse is the memo's
        parse = rows.remembering(
            cells.compile_parser(BOARD_COLUMNS["email"], DIRECTORY, trimmed=True)
        )
        for _ in range(2):
            try:
                parse("not an email")
            except cells.CellError as exc:
                codes.append(exc.code)

    assert cycles_left(run) == 0
    assert codes == ["INVALID_EMAIL"] * 4
