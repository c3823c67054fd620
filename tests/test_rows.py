"""RowParser remembers the parses of repeated cells per column: what it returns must not
depend on whether a cell was parsed or remembered."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from server.imports import cells, csvfile, rows
from server.imports.rows import ParsedRow, RowError, RowParser
from tests.test_cells import COLUMNS, DIRECTORY

BOARD_COLUMNS = {column.id: column for column in COLUMNS.values()}
HEADER = ["name", "status", "numeric", "email", "date"]
CELL = {
    "status": st.sampled_from(["Done", "Stuck", "Nope", " Done ", "", "<NULL>"]),
    "numeric": st.sampled_from(["1", "2.5", "x", "", "1e400"]),
    "email": st.sampled_from(["a@acme.io", "not an email", " a@acme.io", ""]),
    "date": st.sampled_from(["2026-01-02", "2026-02-30", "02/01/2026", ""]),
}
RECORDS = st.lists(
    st.tuples(st.sampled_from(["Acme", "Globex"]), *(CELL[h] for h in HEADER[1:])),
    min_size=1,
    max_size=30,
)


def parser() -> RowParser:
    header = csvfile.parse_header(HEADER, {c: c for c in BOARD_COLUMNS}, 1)
    return RowParser(header, BOARD_COLUMNS, DIRECTORY, clear_with_null=True)


def memo_of(p: RowParser, column_id: str) -> int:
    return next(i for i, (_, column, _) in enumerate(p.cell_parsers) if column == column_id)


def outcome(parsed: ParsedRow | list[RowError]) -> object:
    if isinstance(parsed, ParsedRow):
        return parsed.name, {c: (cell.value, cell.text) for c, cell in parsed.values.items()}
    return [e.as_json() for e in parsed]


@settings(max_examples=200, deadline=None)
@given(records=RECORDS)
def test_a_remembered_cell_parses_as_a_fresh_parser_parses_it(
    records: list[tuple[str, ...]],
) -> None:
    remembering = parser()
    for line, record in enumerate(records, start=2):
        fresh = parser()  # has seen nothing: parses every cell
        assert outcome(remembering.parse(line, list(record))) == outcome(
            fresh.parse(line, list(record))
        )


def test_a_repeated_bad_cell_is_reported_on_every_row() -> None:
    p = parser()
    for line in (2, 3, 4):
        errors = p.parse(line, ["Acme", "", "x", "", ""])
        assert isinstance(errors, list)
        assert [(e.column_id, e.code) for e in errors] == [("numeric", "INVALID_NUMBER")]


def test_a_column_of_distinct_cells_stops_remembering() -> None:
    p = parser()
    numeric, status = memo_of(p, "numeric"), memo_of(p, "status")
    for n in range(rows.MEMO_ENTRIES + 10):
        assert isinstance(p.parse(n + 2, ["Acme", "Done", str(n), "", ""]), ParsedRow)
    assert p.memos[numeric] is None  # every cell new: nothing to gain
    memo = p.memos[status]
    assert memo is not None and list(memo) == ["Done"]


def test_long_cells_are_not_remembered() -> None:
    p = parser()
    email = "a" * rows.MEMO_CELL_CHARS + "@acme.io"
    assert isinstance(p.parse(2, ["Acme", "", "", email, ""]), ParsedRow)
    assert p.memos[memo_of(p, "email")] == {}


CELLS = st.sampled_from(["Done", "Stuck", "Nope", " Done ", "", "x", "1", "2.5", "1e400"])


@settings(max_examples=200, deadline=None)
@given(column_id=st.sampled_from(HEADER[1:]), raws=st.lists(CELLS, max_size=30))
def test_a_remembering_parser_answers_as_the_parser_does(column_id: str, raws: list[str]) -> None:
    def answer(parse: cells.CellParser, raw: str) -> object:
        try:
            cell = parse(raw)
        except cells.CellError as error:
            return (error.code, error.message)
        return None if cell is None else (cell.value, cell.text)

    column = BOARD_COLUMNS[column_id]
    remembered = rows.remembering(cells.compile_parser(column, DIRECTORY, trimmed=True))
    for raw in raws:
        assert answer(remembered, raw) == answer(cells.compile_parser(column, DIRECTORY), raw)


def test_a_remembering_parser_raises_a_repeated_error_without_growing_it() -> None:
    parse = rows.remembering(
        cells.compile_parser(BOARD_COLUMNS["numeric"], DIRECTORY, trimmed=True)
    )
    depths = []
    for _ in range(3):
        try:
            parse("x")
        except cells.CellError as error:
            depth, tb = 0, error.__traceback__
            while tb is not None:
                depth, tb = depth + 1, tb.tb_next
            depths.append(depth)
    assert len(depths) == 3 and depths[0] == depths[1] == depths[2]
