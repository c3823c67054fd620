"""csvfile.header_from_mappings: Zoho-style field mappings checked against the board."""

from __future__ import annotations

import pytest

from server.imports import csvfile

COLUMNS = {"text": "text", "email": "email"}


def test_a_column_mapped_at_two_indexes_is_an_invalid_upload() -> None:
    mappings: list[dict[str, object]] = [
        {"column_id": "name", "index": 0},
        {"column_id": "text", "index": 1},
        {"column_id": "text", "index": 2},
    ]
    with pytest.raises(csvfile.InvalidUpload, match="'text' is mapped twice"):
        csvfile.header_from_mappings(["a", "b", "c"], mappings, COLUMNS, 1)


def test_name_and_name_l1_are_one_level_mapped_twice() -> None:
    mappings: list[dict[str, object]] = [
        {"column_id": "name", "index": 0},
        {"column_id": "name.l1", "index": 1},
    ]
    with pytest.raises(csvfile.InvalidUpload, match="level-1 name twice"):
        csvfile.header_from_mappings(["a", "b"], mappings, COLUMNS, 3)
