"""What fuzzing the API from schema.graphql (tests/test_graphql_fuzz.py) found, each pinned by
the input that once answered INTERNAL_SERVER_ERROR, now a client error with its code."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import blue, importing
from tests.conftest import Api, ServerProcess, start_server, stop_server
from tests.v2 import error_of


def nested(depth: int) -> Any:
    """A JSON array `depth` levels deep: [[[...]]]."""
    return json.loads("[" * depth + "]" * depth)


# every JSON argument, with where in it the nesting goes
JSON_ARGUMENTS = {
    "column_values": (
        "mutation($v: JSON!) { change_multiple_column_values(board_id: 100, item_id: 1000, "
        "column_values: $v) { id } }",
        lambda deep: {"text": deep},
    ),
    "value": (
        'mutation($v: JSON!) { change_column_value(board_id: 100, item_id: 1000, column_id: "status", '
        "value: $v) { id } }",
        lambda deep: {"label": deep},
    ),
    "defaults": (
        'mutation($v: JSON) { create_column(board_id: 100, title: "Deep", column_type: status, '
        "defaults: $v) { id } }",
        lambda deep: {"labels": deep},
    ),
    "payload": (
        'mutation($v: JSON) { create_notification(user_id: 11, target_id: 100, text: "Hi", '
        "target_type: Project, payload: $v) { id } }",
        lambda deep: deep,
    ),
}


@pytest.mark.parametrize("as_text", [False, True], ids=["object", "json-text"])
@pytest.mark.parametrize("argument", list(JSON_ARGUMENTS))
async def test_json_nested_past_the_depth_limit_is_bad_user_input(
    api: Api, argument: str, as_text: bool
) -> None:
    # orjson, which echoes a refused value in error_data and writes jsonb, gives up past 254
    # levels: 300 levels deep answered INTERNAL_SERVER_ERROR "Recursion limit reached"
    query, shape = JSON_ARGUMENTS[argument]
    value = shape(nested(300))
    error = error_of(await api.post(query, {"v": json.dumps(value) if as_text else value}))
    assert error["code"] == "BAD_USER_INPUT"
    assert error["message"] == f"{argument} nests arrays and objects more than 64 levels deep"
    assert error["error_data"] == {argument: None}


async def test_json_nested_within_the_depth_limit_is_judged_as_a_value(api: Api) -> None:
    query, shape = JSON_ARGUMENTS["column_values"]
    error = error_of(await api.post(query, {"v": shape(nested(60))}))
    assert error["code"] == "ColumnValueException"


async def test_a_dropdown_value_of_thousands_of_new_labels_is_set_in_linear_time(
    api: Api,
) -> None:
    # the column's labels were read once per label: 100,000 new labels held the event loop
    # (every request of the server) for minutes, 10,000 for a minute
    labels = [f"Label {n}" for n in range(10_000)]
    response = await api.client.post(
        "/graphql",
        json={
            "query": """mutation($v: JSON!) { change_column_value(board_id: 100, item_id: 1000,
                column_id: "dropdown", value: $v, create_labels_if_missing: true) {
                column_values(ids: ["dropdown"]) { text } } }""",
            "variables": {"v": {"labels": labels}},
        },
        headers={"Authorization": "tok-ada"},
        timeout=10,
    )
    body = response.json()
    assert "errors" not in body, body
    (value,) = body["data"]["change_column_value"]["column_values"]
    assert value["text"] == ", ".join(labels)


SHUTDOWN_TIMEOUT = 10.0  # seconds: stop_server would SIGKILL after 20
BACKFILL_ROWS = 20_000
# a job that has written some of its rows and not all (a file the limits reject never is)
MID_WAY = {
    "monday": """SELECT 1 FROM import_jobs WHERE status = 'PROCESSING'
        AND (counts->>'created')::int > 0""",
    "blue": "SELECT 1 FROM import_jobs WHERE status = 'PROCESSING' AND counts::text <> '{}'",
}


@pytest.mark.parametrize("kind", ["monday", "blue"])
async def test_a_server_stopped_while_an_import_runs_exits_at_once(
    tmp_path: Path, kind: str
) -> None:
    # the runner took the cancel of its own shutdown, which cancels the running job too, for
    # a job whose lease was lost: it logged "job lease lost", went on to claim the next job,
    # and SIGTERM hung until the harness SIGKILLed the process (the Blue import mid-way)
    server = start_server(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client)
            if kind == "monday":  # backfill_items: the most rows a monday file may hold
                rows = [[f"item {i}", "Done"] for i in range(BACKFILL_ROWS)]
                body = importing.csv_text(["name", "status"], rows)
                job = await importing.start_job(api, mutation="backfill_items")
                assert (await importing.upload(job["upload_url"], body)).status_code == 200
            else:
                rows = [[f"item {i}", "Done"] for i in range(40_000)]
                body = importing.csv_text(["Title", "x"], rows)
                key = await blue.put_file(api, "leads", body)
                await blue.start_import(api, "leads", key, ["Title", "x"])
            deadline = time.monotonic() + 60
            while not await importing.database_rows(server, MID_WAY[kind]):
                assert time.monotonic() < deadline, server.log()
                await asyncio.sleep(0.05)
        server.process.terminate()
        assert await asyncio.to_thread(server.process.wait, SHUTDOWN_TIMEOUT) is not None
    finally:
        stop_server(server)
    assert "job lease lost" not in server.log()


BAD_VARIABLES = {
    "id-float": ("query($b: [ID!]) { boards(ids: $b) { id } }", {"b": [1.5]}),
    "id-object": ("query($b: [ID!]) { boards(ids: $b) { id } }", {"b": {"x": 1}}),
    "string-int": (
        "mutation($i: ImportTodosInput!) { importTodos(input: $i) }",
        {"i": {"projectId": 5, "s3Key": "k", "headers": ["Title"]}},
    ),
}


@pytest.mark.parametrize("case", list(BAD_VARIABLES))
async def test_a_variable_value_of_the_wrong_type_logs_no_traceback(
    api: Api, server: ServerProcess, case: str
) -> None:
    # graphql-core's refusal of the value is an answer to the client, yet strawberry logged it
    # at ERROR with the traceback of the coercion, over HTTP and websockets alike: a fuzzer
    # sending bad variables filled the log with tracebacks that hid the server's own
    query, variables = BAD_VARIABLES[case]
    log_start = len(server.log())
    response = await api.post(query, variables)
    body = response.json()
    assert body["errors"], body
    assert all(e["extensions"]["code"] != "INTERNAL_SERVER_ERROR" for e in body["errors"]), body
    logged = server.log()[log_start:]
    assert "Traceback" not in logged, logged


WIDE = 99_999_999_999_999_999_999_999  # past 64 bits: orjson, which echoes and stores, cannot


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("column_values", -WIDE),
        ("column_values", [WIDE]),
        ("column_values", {"numeric": WIDE}),
        ("column_values", {"text": {"wide": [WIDE]}}),
        ("column_values", {"phone": {"phone": WIDE, "countryShortName": "US"}}),
        ("value", {"label": WIDE}),
        ("defaults", {"labels": {"1": WIDE}}),
        ("payload", {"n": -WIDE}),
    ],
    ids=["scalar", "list", "number", "nested", "phone", "status", "defaults", "payload"],
)
async def test_an_integer_past_64_bits_in_json_is_read_as_a_float(
    api: Api, argument: str, value: Any
) -> None:
    # as orjson reads the same JSON text (1e+23); a literal or variable reached orjson as an
    # int and answered INTERNAL_SERVER_ERROR "Integer exceeds 64-bit range"
    query, _ = JSON_ARGUMENTS[argument]
    as_text = json.loads(json.dumps(value).replace(str(WIDE), "1e23"))
    for sent in (value, json.dumps(value)):
        got = (await api.post(query, {"v": sent})).json()
        want = (await api.post(query, {"v": as_text})).json()
        for answer in (got, want):
            for error in answer.get("errors") or []:
                error["extensions"].pop("request_id", None)
        assert got.get("errors") == want.get("errors"), (got, want)
        assert "INTERNAL_SERVER_ERROR" not in str(got), got


async def test_an_integer_past_a_doubles_range_in_json_is_bad_user_input(api: Api) -> None:
    query, _ = JSON_ARGUMENTS["column_values"]
    error = error_of(await api.post(query, {"v": {"numeric": 10**400}}))
    assert error["code"] == "BAD_USER_INPUT"
    assert error["message"] == "column_values holds a number past the range of a double (1.8e308)"
