"""server.columnvalues: monday's v2 JSON formats turned into exactly what an import stores.

Every case compares `from_json` with `cells.parse_cell` on the CSV cell an import file would
hold for the same value: same stored `value`, same `text`.
"""

from __future__ import annotations

from typing import Any

import pytest

from server import columnvalues
from server.imports import cells

DIRECTORY = cells.Directory(
    users=[
        cells.Person(id=10, name="Ada Admin", email="ada@acme.example.com"),
        cells.Person(id=11, name="Bob Member", email="bob@acme.example.com"),
        cells.Person(id=15, name="Olga Old", email="olga@acme.example.com", enabled=False),
    ],
    teams=[cells.Team(id=5, name="Ops")],
    items={500: {5001: "Acme, Inc", 5002: "Globex"}},
)
STATUS = cells.Column(
    id="status", title="Status", type="status",
    settings={"labels": ["Working on it", "Done", {"label": "Old", "active": False}, "Stuck"]},
)  # fmt: skip
DROPDOWN = cells.Column(
    id="dropdown", title="Tags", type="dropdown", settings={"labels": ["A", "B, C", "D"]}
)


def column(column_type: str, **settings: Any) -> cells.Column:
    return cells.Column(id=column_type, title=column_type, type=column_type, settings=settings)


def imported(col: cells.Column, csv_cell: str) -> cells.Cell | None:
    return cells.parse_cell(col, csv_cell, DIRECTORY)


def written(col: cells.Column, value: Any) -> cells.Cell | None:
    return columnvalues.from_json(col, value, DIRECTORY)


@pytest.mark.parametrize(
    ("col", "value", "csv_cell"),
    [
        (column("text"), "Sample text", "Sample text"),
        (column("long_text"), {"text": "Sample text\nline two"}, "Sample text\nline two"),
        (column("numbers"), "3", "3"),
        (column("numbers"), 3.50, "3.5"),
        (column("currency", currency="USD"), "-12.50", "-12.5"),
        (STATUS, {"index": 0}, "Working on it"),
        (STATUS, {"index": 3}, "Stuck"),
        (STATUS, {"label": "Done"}, "Done"),
        (STATUS, "Done", "Done"),
        (DROPDOWN, {"id": 1}, "A"),
        (DROPDOWN, {"ids": [2, 1]}, '"B, C", A'),
        (DROPDOWN, {"label": "D"}, "D"),
        (DROPDOWN, {"labels": ["B, C", "D"]}, '"B, C", D'),
        (DROPDOWN, "A, D", "A, D"),
        (
            column("people"),
            {"personsAndTeams": [{"id": 10, "kind": "person"}, {"id": 5, "kind": "team"}]},
            "ada@acme.example.com, team:Ops",
        ),
        (column("people"), {"id": 11}, "bob@acme.example.com"),
        (column("email"), {"email": "itsmyemail@mailserver.com", "text": "my email"},
         "my email <itsmyemail@mailserver.com>"),
        (column("email"), {"email": "someone@example.com"}, "someone@example.com"),
        (column("phone"), {"phone": "11231234567", "countryShortName": "US"}, "+11231234567 US"),
        (column("phone"), {"phone": "2125551234", "countryShortName": "US"}, "2125551234 US"),
        (column("phone"), {"phone": "+447911123456", "countryShortName": "gb"}, "+447911123456 GB"),
        (column("link"), {"url": "http://monday.com", "text": "go to monday!"},
         "[go to monday!](http://monday.com)"),
        (column("date"), {"date": "2019-06-03", "time": "13:25:00"}, "2019-06-03 13:25:00"),
        (column("date"), {"date": "2019-06-03"}, "2019-06-03"),
        (column("date"), "2019-06-03", "2019-06-03"),
        (column("timeline"), {"from": "2019-06-03", "to": "2019-06-07"}, "2019-06-03/2019-06-07"),
        (column("checkbox"), {"checked": "true"}, "true"),
        (column("checkbox"), {"checked": True}, "yes"),
        (column("board_relation", board_ids=[500]), {"item_ids": [5001, 5002]},
         '"Acme, Inc", Globex'),
        (column("board_relation", board_ids=[500]),
         {"linkedPulseIds": [{"linkedPulseId": 5002}]}, "5002"),
    ],
)  # fmt: skip
def test_documented_json_stores_what_the_same_csv_cell_imports(
    col: cells.Column, value: Any, csv_cell: str
) -> None:
    cell = written(col, value)
    assert cell is not None
    assert cell == imported(col, csv_cell)


def test_status_by_index_stores_the_label_and_index() -> None:
    assert written(STATUS, {"index": 1}) == cells.Cell({"index": 1, "label": "Done"}, "Done")


def test_json_text_inside_a_column_values_entry_is_read_as_its_object() -> None:
    assert written(STATUS, '{"label": "Stuck"}') == imported(STATUS, "Stuck")
    assert written(column("date"), '{"date": "2024-01-02"}') == imported(
        column("date"), "2024-01-02"
    )


@pytest.mark.parametrize("empty", [None, "", {}, []])
@pytest.mark.parametrize(
    "col", [column("text"), STATUS, DROPDOWN, column("date"), column("people")]
)
def test_empty_string_or_object_clears(col: cells.Column, empty: Any) -> None:
    assert written(col, empty) is None


@pytest.mark.parametrize(
    ("col", "value"),
    [
        (column("checkbox"), {"checked": False}),
        (column("date"), {"date": "", "time": ""}),
        (STATUS, {"label": ""}),
        (DROPDOWN, {"ids": []}),
        (column("people"), {"personsAndTeams": []}),
    ],
)
def test_empty_fields_clear(col: cells.Column, value: Any) -> None:
    cell = written(col, value)
    assert cell is None or cell.value is None


def test_unknown_status_label_lists_the_labels_with_their_indexes() -> None:
    with pytest.raises(columnvalues.MissingLabels) as caught:
        written(STATUS, {"label": "Doen"})
    assert caught.value.code == "ColumnValueException"
    assert caught.value.message == (
        "This status label doesn't exist, possible statuses are: "
        "{0: Working on it, 1: Done, 3: Stuck}"
    )
    assert caught.value.labels == ["Doen"]
    assert caught.value.error_data["labels"] == {"0": "Working on it", "1": "Done", "3": "Stuck"}


def test_unknown_or_inactive_status_index_is_refused() -> None:
    for index in (2, 9, "x"):
        with pytest.raises(columnvalues.ColumnValueError, match="status index doesn't exist"):
            written(STATUS, {"index": index})


def test_unknown_dropdown_label_or_id_lists_the_labels_with_their_ids() -> None:
    with pytest.raises(columnvalues.MissingLabels) as caught:
        written(DROPDOWN, {"labels": ["A", "Z"]})
    assert caught.value.labels == ["Z"]
    assert "possible labels are: {1: A, 2: B, C, 3: D}" in caught.value.message
    with pytest.raises(columnvalues.MissingLabels):
        written(DROPDOWN, "A, Z")
    with pytest.raises(columnvalues.ColumnValueError, match="label id 7 doesn't exist"):
        written(DROPDOWN, {"ids": [1, 7]})


@pytest.mark.parametrize(
    ("col", "value", "reason"),
    [
        (column("email"), {"email": "not-an-email"}, "INVALID_EMAIL"),
        (column("numbers"), "three", "INVALID_NUMBER"),
        (column("date"), {"date": "2019-02-30"}, "INVALID_DATE"),
        (column("timeline"), {"from": "2019-06-07", "to": "2019-06-03"}, "INVALID_TIMELINE"),
        (column("link"), {"url": "monday.com"}, "INVALID_URL"),
        (column("phone"), {"phone": "123", "countryShortName": "US"}, "INVALID_PHONE"),
        (column("people"), {"personsAndTeams": [{"id": 999, "kind": "person"}]}, "PERSON_NOT_FOUND"),
        (column("people"), {"personsAndTeams": [{"id": 15, "kind": "person"}]}, "INACTIVE_USER"),
        (column("people"), {"personsAndTeams": [{"id": "x"}]}, "INVALID_PERSON"),
        (column("board_relation", board_ids=[500]), {"item_ids": [9]}, "ITEM_NOT_FOUND"),
        (column("checkbox"), {"checked": "maybe"}, "INVALID_CHECKBOX"),
    ],
)  # fmt: skip
def test_invalid_values_are_refused_with_the_import_rule(
    col: cells.Column, value: Any, reason: str
) -> None:
    with pytest.raises(columnvalues.ColumnValueError) as caught:
        written(col, value)
    assert caught.value.code == "ColumnValueException"
    assert caught.value.error_data["reason"] == reason
    assert caught.value.error_data["column_id"] == col.id


def test_an_object_without_the_documented_keys_is_refused() -> None:
    with pytest.raises(columnvalues.ColumnValueError, match='"date" or "time"'):
        written(column("date"), {"day": "2019-06-03"})
    with pytest.raises(columnvalues.ColumnValueError, match="expects a string"):
        written(column("text"), {"text": "x"})


def test_decode_reads_json_text_and_keeps_plain_strings() -> None:
    assert columnvalues.decode('{"index": 1}') == {"index": 1}
    assert columnvalues.decode('"Sample text"') == "Sample text"
    assert columnvalues.decode("Sample text") == "Sample text"
    assert columnvalues.decode({"index": 1}) == {"index": 1}
    assert columnvalues.decode_object('{"text": "New text"}', "column_values") == {
        "text": "New text"
    }
