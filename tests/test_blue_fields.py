"""Blue's recognised fields as CSV cells: the timestamps PostgreSQL keeps as given."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from server.imports import blue as blue_import
from server.imports import blue_fields, cells


@pytest.mark.parametrize(
    "text", ["0001-01-01", "0001-01-01T00:00:00Z", "0001-01-01T02:00+02:00", "Jan 1, 0001"]
)
def test_parse_timestamp_refuses_the_instant_asyncpg_sends_as_minus_infinity(text: str) -> None:
    with pytest.raises(cells.CellError) as refused:
        blue_fields.parse_timestamp(text)
    assert refused.value.code == "INVALID_DATE"
    assert "out of range" in refused.value.message


def test_parse_timestamp_takes_every_other_second_of_years_1_to_9999() -> None:
    assert blue_fields.parse_timestamp("0001-01-01T00:00:01Z") == blue_fields.EARLIEST
    assert blue_fields.parse_timestamp("9999-12-31T23:59:59Z") == blue_fields.LATEST


@pytest.mark.parametrize("stored", [dt.datetime.min, dt.datetime.max])
def test_render_timestamp_writes_postgresql_infinity_as_an_empty_cell(stored: dt.datetime) -> None:
    assert blue_fields.render_timestamp(stored) == ""


def test_render_timestamp_writes_early_years_with_four_digits_so_they_import_back() -> None:
    cell = blue_fields.render_timestamp(blue_fields.EARLIEST)
    assert cell == "0001-01-01T00:00:01Z"
    assert blue_fields.parse_timestamp(cell) == blue_fields.EARLIEST


def test_count_records_skips_the_header_row_and_blank_lines_and_stops_where_told(
    tmp_path: Path,
) -> None:
    path = tmp_path / "file.csv"
    path.write_text("Title,List\n" + "".join(f"r{i},x\n" if i % 3 else ",\n" for i in range(30)))
    assert blue_import.count_records(path, ["Title", "List"]) == 20
    assert blue_import.count_records(path, ["Title", "List"], stop_at=7) == 7
    assert blue_import.count_records(path, ["Title", "List"], stop_at=50) == 20


def test_split_names_keeps_first_spellings_in_linear_time() -> None:
    # the names kept so far were lower-cased again for each piece: 16,000 tags in a cell
    # took 12 s of the parsing worker, which every import of the server waits on
    assert blue_fields.split_names(" a, B ,b,,A,c ,a") == ["a", "B", "c"]
    many = ",".join(f"tag {i}, TAG {i}" for i in range(12_000))
    started = time.monotonic()
    names = blue_fields.split_names(many)
    assert time.monotonic() - started < 1.0  # quadratic: 18 s
    assert names == [f"tag {i}" for i in range(12_000)]
