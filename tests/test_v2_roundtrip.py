"""The round trip of issue 7: a board with every column type built by v2 mutations, filled by a
bulk import, read back, written again by mutation with monday's JSON formats (which must store
exactly what the import stored), changed, and exported."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from typing import Any

import httpx

from tests.conftest import Api
from tests.importing import csv_text, run_import, stored_values
from tests.v2 import change_value, create_board, create_column, create_item, values_of

MAIL_TIMEOUT = 60.0  # seconds to wait for the export's e-mail

# column id (chosen by create_column from its type) -> (title, type, defaults)
COLUMNS: dict[str, tuple[str, str, Any]] = {
    "text": ("Text", "text", None),
    "long_text": ("Long text", "long_text", None),
    "numbers": ("Numbers", "numbers", None),
    "status": ("Status", "status", None),
    "dropdown": ("Dropdown", "dropdown", {"labels": ["Red", "Green", "Blue, Navy"]}),
    "date": ("Date", "date", None),
    "timeline": ("Timeline", "timeline", None),
    "people": ("People", "people", None),
    "phone": ("Phone", "phone", None),
    "email": ("Email", "email", None),
    "link": ("Link", "link", None),
    "board_relation": ("Client", "board_relation", "relation"),
    "checkbox": ("Checkbox", "checkbox", None),
    "currency": ("Budget", "currency", {"currency": "EUR"}),
}

# the same values: as a CSV cell of the import, and in monday's v2 JSON format
CSV_CELLS = {
    "text": "Hello",
    "long_text": "Line one",
    "numbers": "42.50",
    "status": "Done",
    "dropdown": '"Blue, Navy", Red',
    "date": "2025-03-05 14:30",
    "timeline": "2025-01-01/2025-01-31",
    "people": "bob@acme.example.com, team:Ops",
    "phone": "+12125551234",
    "email": "Ann <ann@example.com>",
    "link": "[Docs](https://example.com/docs)",
    "board_relation": '"Acme, Inc"',
    "checkbox": "yes",
    "currency": "12.5",
}
JSON_VALUES: dict[str, Any] = {
    "text": "Hello",
    "long_text": {"text": "Line one"},
    "numbers": "42.50",
    "status": {"index": 1},
    "dropdown": {"labels": ["Blue, Navy", "Red"]},
    "date": {"date": "2025-03-05", "time": "14:30:00"},
    "timeline": {"from": "2025-01-01", "to": "2025-01-31"},
    "people": {"personsAndTeams": [{"id": 11, "kind": "person"}, {"id": 5, "kind": "team"}]},
    "phone": {"phone": "12125551234", "countryShortName": "US"},
    "email": {"email": "ann@example.com", "text": "Ann"},
    "link": {"url": "https://example.com/docs", "text": "Docs"},
    "board_relation": None,  # {"item_ids": [the "Acme, Inc" item]}, known once it exists
    "checkbox": {"checked": "true"},
    "currency": 12.5,
}


async def build_board(api: Api) -> tuple[str, str]:
    """The board with every column type, and the id of the item its relation column links."""
    clients = await create_board(api, "Clients")
    acme = await create_item(api, clients, "Acme, Inc")
    await create_item(api, clients, "Globex")
    board = await create_board(api, "Everything")
    for column_id, (title, column_type, defaults) in COLUMNS.items():
        settings = {"boardIds": [int(clients)]} if defaults == "relation" else defaults
        assert await create_column(api, board, title, column_type, settings) == column_id
    return board, acme


async def wait_for_mail(api: Api) -> dict[str, Any]:
    deadline = time.monotonic() + MAIL_TIMEOUT
    while True:
        response = await api.admin("GET", "/__admin/outbox")
        messages = response.json()
        if messages:
            return dict(messages[-1])
        assert time.monotonic() < deadline, "no export e-mail arrived"
        await asyncio.sleep(0.1)


async def test_mutations_store_exactly_what_an_import_of_the_same_values_stores(api: Api) -> None:
    board, acme = await build_board(api)
    values = {**JSON_VALUES, "board_relation": {"item_ids": [int(acme)]}}

    # import one row with every column
    status = await run_import(
        api,
        csv_text(["name", *CSV_CELLS], [[name, *CSV_CELLS.values()] for name in ("Imported", "Twin")]),
        board_id=board, group_id="topics",
    )  # fmt: skip
    assert status["status"] == "COMPLETED" and status["counts"]["created"] == 2, status
    imported = (await stored_values(api, board))["Imported"]
    assert set(imported) == set(COLUMNS)
    assert imported["status"] == ("Done", {"index": 1, "label": "Done"})
    assert imported["board_relation"] == (
        "Acme, Inc",
        {"linkedPulseIds": [{"linkedPulseId": int(acme)}]},
    )

    # the same values by create_item, and one by one by change_column_value
    created = await create_item(api, board, "Created", values)
    changed = await create_item(api, board, "Changed")
    for column_id, value in values.items():
        response = await change_value(api, board, changed, column_id, value)
        assert "errors" not in response.json(), (column_id, response.json())
    assert await values_of(api, created) == imported
    assert await values_of(api, changed) == imported

    # items read back through items_by_column_values like any other
    data = await api.gql(
        """query($b: ID!) { items_by_column_values(board_id: $b, column_id: "people",
            column_value: "Bob Member, Ops") { name } }""",
        {"b": board},
    )
    assert sorted(i["name"] for i in data["items_by_column_values"]) == [
        "Changed", "Created", "Imported", "Twin"
    ]  # fmt: skip

    # change values by mutation: the import's item is an item like the others
    imported_id = (await api.gql(
        """query($b: ID!) { items_by_column_values(board_id: $b, column_id: "name",
            column_value: "Imported") { id } }""", {"b": board},
    ))["items_by_column_values"][0]["id"]  # fmt: skip
    await api.gql(
        """mutation($b: ID!, $i: ID, $v: JSON!) { change_multiple_column_values(board_id: $b,
            item_id: $i, column_values: $v) { id } }""",
        {"b": board, "i": imported_id,
         "v": json.dumps({"status": {"label": "Stuck"}, "checkbox": {}, "numbers": "-1"})},
    )  # fmt: skip
    after = await values_of(api, imported_id)
    assert after["status"] == ("Stuck", {"index": 2, "label": "Stuck"})
    assert after["numbers"] == ("-1", "-1")
    assert "checkbox" not in after

    # an import that updates by name stores the same again
    status = await run_import(
        api, csv_text(["name", "status", "numbers"], [["Changed", "Stuck", "-1"]]),
        board_id=board, group_id="topics",
        on_match={"behaviour": "UPSERT", "match_column_id": "name"},
    )  # fmt: skip
    assert status["counts"]["updated"] == 1, status
    again = await values_of(api, changed)
    assert (again["status"], again["numbers"]) == (after["status"], after["numbers"])

    # the export writes the same cells for imported and mutated values (Twin is unchanged)
    data = await api.gql(
        "mutation($i: ExportTodosInput!) { exportTodos(input: $i) }", {"i": {"projectId": board}}
    )
    assert data == {"exportTodos": True}
    mail = await wait_for_mail(api)
    async with httpx.AsyncClient() as client:
        response = await client.get(mail["links"][0])
    rows = {row["Title"]: row for row in csv.DictReader(io.StringIO(response.text))}
    titles = [title for title, _, _ in COLUMNS.values()]
    assert [rows["Created"][t] for t in titles] == [rows["Twin"][t] for t in titles]
    assert rows["Created"]["Dropdown"] == '"Blue, Navy", Red'
    assert rows["Created"]["Currency Types"] == "EUR"
