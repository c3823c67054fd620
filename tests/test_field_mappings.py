"""Zoho-style field mappings checked against the board (csvfile.header_from_mappings), their
default values, and what the mutation refuses in them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.imports import csvfile
from tests.conftest import Api
from tests.importing import board_items, download_report, run_import

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


MAPPINGS_MUTATION = """mutation($m: [ItemsJobFieldMapping!], $s: ItemsJobSubitemsInput) {
    ingest_items(board_id: "100", group_id: "topics", field_mappings: $m, subitems: $s)
    { job_id } }"""


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"m": [{"column_id": "name", "index": 0, "default_value": "\ud800"}]},
         "field_mappings[0].default_value"),
        ({"m": [{"column_id": "name", "index": 0}, {"column_id": "x\udfff", "index": 1}]},
         "field_mappings[1].column_id"),
        ({"s": {"parent_key_column_id": "name", "parent_key_header": "p\ud800"}},
         "subitems.parent_key_header"),
    ],
)  # fmt: skip
async def test_an_option_holding_a_lone_surrogate_is_bad_user_input(
    api: Api, variables: dict[str, Any], argument: str
) -> None:
    # JSON allows "\ud800"; the options are stored as JSON text in PostgreSQL, which is
    # UTF-8 and has no such character: the mutation failed with INTERNAL_SERVER_ERROR
    body = json.dumps({"query": MAPPINGS_MUTATION, "variables": variables})  # ascii escapes
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": "tok-ada", "Content-Type": "application/json"},
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["error_data"] == {"argument": argument}
    assert "lone surrogate" in error["message"]


@pytest.mark.parametrize(
    ("mappings", "message"),
    [
        ([{"column_id": "name", "index": 0}, {"column_id": "status", "index": 1,
          "default_value": "Lost"}],
         "Field mapping for 'status': default_value 'Lost' is not valid for the column: "
         "INVALID_STATUS_LABEL"),
        ([{"column_id": "name", "index": 0}, {"column_id": "numeric", "default_value": "1,5"}],
         "Field mapping for 'numeric': default_value '1,5' is not valid for the column: "
         "INVALID_NUMBER"),
    ],
)  # fmt: skip
async def test_a_default_value_invalid_for_its_column_rejects_the_file(
    api: Api, mappings: list[dict[str, Any]], message: str
) -> None:
    # the default is the job's own setting, not a row's: every row leaving the cell empty
    # was reported invalid while the others went in (in an update, rows that would have
    # kept their stored value)
    before = await board_items(api)
    status = await run_import(api, "Who,Stage\nFilled,Done\nEmpty,\n", field_mappings=mappings)
    assert status["status"] == "REJECTED", status
    assert status["failure_reason"] == "INVALID_UPLOAD"
    assert status["failure_message"].startswith(message), status
    assert await board_items(api) == before


async def test_a_null_marker_default_clears_matched_items_empty_cells(api: Api) -> None:
    # `<NULL>` is no value to check: in an update it clears, as in a cell
    mappings = [
        {"column_id": "name", "index": 0},
        {"column_id": "email", "index": 1},
        {"column_id": "status", "index": 2, "default_value": "<NULL>"},
    ]
    update = {"behaviour": "UPDATE", "match_column_id": "email"}
    status = await run_import(
        api, "Who,Mail,Stage\n,old@acme.example.com,\n", field_mappings=mappings, on_match=update
    )
    assert status["counts"]["updated"] == 1, status
    assert "status" not in (await board_items(api))["Existing lead"]["values"]


async def test_the_name_mapped_to_a_constant_names_every_row(api: Api) -> None:
    # a mapping without an index reads a cell past the header's; for the name, the header
    # was asked whether that cell is a `name.lN` header: IndexError, the job FAILED with
    # INTERNAL_ERROR
    mappings = [
        {"column_id": "name", "default_value": "Lead from the CRM"},
        {"column_id": "email", "index": 1},
    ]
    body = "Id,Mail\n1,a@example.com\n2,b@example.com\n"
    status = await run_import(api, body, field_mappings=mappings, report="ALL_ROWS")
    assert status["counts"]["created"] == 2, status
    report = await download_report(status)
    assert [(r["Mail"], r["__status"]) for r in report] == [
        ("a@example.com", "created"), ("b@example.com", "created")
    ]  # fmt: skip
    assert (await board_items(api))["Lead from the CRM"]["values"]["email"] == "b@example.com"


async def test_a_default_item_id_is_the_key_of_rows_without_one(api: Api) -> None:
    # find_by the record id (`match_column_id: "id"`) read the id cell as written: its
    # mapping's default_value was ignored, and the row created a new item
    mappings = [
        {"column_id": "id", "index": 0, "default_value": "1000"},
        {"column_id": "name", "index": 1},
    ]
    upsert = {"behaviour": "UPSERT", "match_column_id": "id"}
    status = await run_import(api, "Id,Deal\n,Renamed\n", field_mappings=mappings, on_match=upsert)
    assert status["counts"]["updated"] == 1, status
    items = await board_items(api)
    assert set(items) == {"Renamed"} and items["Renamed"]["id"] == "1000", items


async def test_more_than_200_mapped_fields_are_refused(api: Api) -> None:
    # Zoho's HEADER_LIMIT_EXCEEDED: "The number of fields mapped has exceeded the maximum
    # limit of 200"; any number was accepted
    mappings = [{"column_id": "name", "index": 0}]
    mappings += [{"column_id": f"c{n}", "index": n} for n in range(1, 201)]
    response = await api.post(MAPPINGS_MUTATION, {"m": mappings})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "exceeded the maximum limit of 200" in error["message"], error
    at_limit = (await api.post(MAPPINGS_MUTATION, {"m": mappings[:200]})).json()
    assert not any("maximum limit" in e["message"] for e in at_limit.get("errors", [])), at_limit


@pytest.mark.parametrize(
    ("mappings", "on_match", "unknown"),
    [
        ([{"column_id": "name", "index": 0}, {"column_id": "nope", "index": 1}], None, ["nope"]),
        ([{"column_id": "name.l1", "index": 0}], None, ["name.l1"]),  # a one-level board
        ([{"column_id": "name", "index": 0}, {"column_id": "id", "index": 1}], None, ["id"]),
        ([{"column_id": "name", "index": 0}, {"column_id": "id", "index": 1}],
         {"behaviour": "UPDATE", "match_column_id": "id"}, None),
    ],
)  # fmt: skip
async def test_a_mapping_of_no_field_of_the_board_is_refused_by_the_mutation(
    api: Api,
    mappings: list[dict[str, Any]],
    on_match: dict[str, str] | None,
    unknown: list[str] | None,
) -> None:
    # Zoho's INVALID_FIELD answers the request that creates the job ("An invalid field API
    # name throws an error"); the job was created, and REJECTED only once its file arrived
    query = """mutation($m: [ItemsJobFieldMapping!], $o: ItemsJobOnMatchInput) {
        ingest_items(board_id: "100", group_id: "topics", field_mappings: $m, on_match: $o)
        { job_id } }"""
    body = (await api.post(query, {"m": mappings, "o": on_match})).json()
    if unknown is None:
        assert body["data"]["ingest_items"]["job_id"], body
        return
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"] == f"field_mappings: {unknown[0]!r} is not a column id of board 100"
    assert error["extensions"]["error_data"] == {"column_ids": unknown}


async def test_mappings_without_the_name_are_refused_by_the_mutation(api: Api) -> None:
    # Zoho's MANDATORY_FIELDS_NOT_MAPPED answers the create-job request; the job was created
    # and REJECTED (INVALID_UPLOAD) only once its file arrived
    response = await api.post(MAPPINGS_MUTATION, {"m": [{"column_id": "email", "index": 1}]})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"].startswith("field_mappings must map 'name'"), error
