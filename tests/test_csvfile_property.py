"""Property tests: the CSV reader raises nothing but its own InvalidUpload, whatever the bytes."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.imports import csvfile

CSV_BYTES = st.one_of(
    st.binary(max_size=2000),
    st.text(alphabet=st.sampled_from(list('ab,"\r\n\t é\x00')), max_size=500).map(str.encode),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=CSV_BYTES)
def test_reader_yields_records_or_raises_invalid_upload(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    try:
        records = list(csvfile.read_records(path))
    except csvfile.InvalidUpload as exc:
        assert "line" in exc.message.lower() or "Line" in exc.message
        return
    for line, record in records:
        assert line >= 1
        assert all(isinstance(cell, str) for cell in record)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.text(max_size=20), max_size=8), levels=st.integers(1, 5))
def test_header_parser_accepts_or_raises_invalid_upload(cells: list[str], levels: int) -> None:
    try:
        header = csvfile.parse_header(cells, {"status": "status", "text": "text"}, levels)
    except csvfile.InvalidUpload:
        return
    assert 1 in header.level_of_index.values()


@pytest.mark.parametrize("boundary", [1, 2, 8191, 8192, 8193])
def test_quoted_newline_across_read_boundaries_is_one_cell(tmp_path: Path, boundary: int) -> None:
    path = tmp_path / "file.csv"
    prefix = "name,text\n" + "x" * boundary
    path.write_text(prefix + ',"first\nsecond"\n', encoding="utf-8")
    records = list(csvfile.read_records(path))
    assert records[1][1] == ["x" * boundary, "first\nsecond"]


def _outcome(path: Path) -> object:
    try:
        return list(csvfile.read_records(path))
    except csvfile.InvalidUpload as exc:
        return exc.message


def _line_by_line(data: bytes) -> object:
    """The reference: the reader as it was, decoding one line at a time."""

    def lines() -> Iterator[str]:
        for number, raw in enumerate(data.splitlines(keepends=True), start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            nul = raw.find(b"\x00")
            if nul >= 0:
                raise csvfile.InvalidUpload(
                    f"Line {number} contains a NUL byte (column {nul + 1}); "
                    "is the file UTF-16 or binary? Save it as UTF-8 text"
                )
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise csvfile.InvalidUpload(
                    f"Line {number} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
                    f"{exc.start + 1}); save the file as UTF-8"
                ) from exc

    records: list[tuple[int, list[str]]] = []
    reader = csv.reader(lines(), strict=True)
    try:
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return records
            except csv.Error as exc:
                return f"CSV parse error at line {start}: {exc}"
            if record:
                records.append((start, record))
    except csvfile.InvalidUpload as exc:
        return exc.message


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        CSV_BYTES,
        st.lists(
            st.sampled_from(
                [b"a", b",", b'"', b"\r", b"\n", b"\r\n", "é".encode(), b"\xff", b"\x00"]
            ),
            max_size=80,
        ).map(b"".join),
    ),
    block=st.integers(1, 9),
)
def test_any_block_size_reads_as_a_line_by_line_read_would(
    tmp_path: Path, data: bytes, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    whole = _outcome(path)
    with monkeypatch.context() as patch:
        patch.setattr(csvfile, "BLOCK_BYTES", block)
        assert _outcome(path) == whole
    assert whole == _line_by_line(data)
