"""The admin API's fixture loading, clock and reset (CONTRACT §4, §5), through HTTP.

Loading merges into what is stored; a malformed fixture is refused whole with a 400; the clock
only moves forward by a finite number of seconds; a reset whose fixture or storage fails leaves
the data as it was.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import httpx
import pytest
from starlette.applications import Starlette

from server import storage
from server.api.admin import admin_routes
from server.settings import DEFAULT_REGION, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY
from tests.conftest import DEMO_FIXTURE, Api, ServerProcess, shared_s3, start_server, stop_server
from tests.v2 import create_item

ACME = {"id": 1, "name": "Acme"}  # the demo account, without its slug and plan
LEADS = """{ boards(ids: [100]) {
    description owner { id } groups { id title } items { id name } } }"""


async def leads(api: Api) -> dict[str, Any]:
    board: dict[str, Any] = (await api.gql(LEADS))["boards"][0]
    return board


async def project_found(api: Api, project: str) -> bool:
    response = await api.post(
        "query($p: String!) { todoImportReport(projectId: $p) { status } }", {"p": project}
    )
    return "errors" not in response.json()


# Loading a fixture over stored records


async def test_reloading_records_changes_only_the_keys_the_fixture_gives(api: Api) -> None:
    await api.load_fixture(
        {"accounts": [ACME], "boards": [{"id": 100, "description": "Warm leads"}]}
    )
    made = await create_item(api, "100", "Made through the API")
    await api.load_fixture(
        {
            "accounts": [ACME],
            "users": [{"id": 11, "account_id": 1, "name": "Bob Renamed"}],
            "boards": [
                {
                    "id": 100, "account_id": 1, "name": "Leads",
                    # no groups, members or columns: the board keeps its own
                    "items": [{"id": 1001, "name": "Loaded later",
                               "values": {"email": "new@acme.example.com"}}],
                }
            ],
        }
    )  # fmt: skip
    account = (await api.gql("{ account { slug plan { tier } } }"))["account"]
    assert account == {"slug": "acme", "plan": {"tier": "enterprise"}}
    # Bob is renamed, and keeps his token
    assert (await api.gql("{ me { id name } }", token="tok-bob"))["me"] == {
        "id": "11",
        "name": "Bob Renamed",
    }
    board = await leads(api)
    assert board["description"] == "Warm leads"
    assert board["owner"] == {"id": "10"}
    assert board["groups"] == [
        {"id": "topics", "title": "Topics"},
        {"id": "closed", "title": "Closed"},
    ]
    # the new item goes after the items already there, in the board's first group
    assert [i["id"] for i in board["items"]] == ["1000", made, "1001"]
    assert await project_found(api, "leads")  # the slug
    assert await project_found(api, "clm4n8qwx000008l0g4oxdqn7")  # the uid
    item = (
        await api.gql(
            '{ items(ids: [1001]) { group { id } column_values(ids: ["email"]) { text } } }'
        )
    )["items"][0]
    assert item == {"group": {"id": "topics"}, "column_values": [{"text": "new@acme.example.com"}]}


async def test_new_groups_and_columns_go_after_the_boards_own(api: Api) -> None:
    await api.load_fixture(
        {
            "accounts": [ACME],
            "boards": [{"id": 100, "groups": [{"id": "later", "title": "Later"}],
                        "columns": [{"id": "extra", "title": "Extra", "type": "text"}]}],
        }
    )  # fmt: skip
    board = (await api.gql("{ boards(ids: [100]) { groups { id } columns { id } } }"))["boards"][0]
    assert [g["id"] for g in board["groups"]] == ["topics", "closed", "later"]
    demo = ["text", "status", "date", "email", "numeric", "dropdown", "people", "budget"]
    assert [c["id"] for c in board["columns"]] == [*demo, "extra"]


async def test_a_new_record_without_a_name_is_refused(api: Api) -> None:
    response = await api.admin(
        "POST", "/__admin/fixture", {"accounts": [ACME], "boards": [{"id": 700, "account_id": 1}]}
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "invalid fixture: a new board needs 'name'",
        "code": "BAD_USER_INPUT",
    }


# Malformed fixtures


def board_with(**keys: Any) -> dict[str, Any]:
    return {"accounts": [{"id": 1, "name": "Renamed"}],
            "boards": [{"id": 700, "account_id": 1, "name": "Partial", **keys}]}  # fmt: skip


MALFORMED = {
    "member not an object": (board_with(members=["x"]), "boards[0].members[0]: expected an object"),
    "values not an object": (
        board_with(items=[{"name": "I", "values": ["a"]}]),
        "boards[0].items[0].values: expected an object of CSV cell texts",
    ),
    "settings not an object": (
        board_with(columns=[{"id": "s", "type": "status", "settings": "x"}]),
        'boards[0].columns[0].settings: expected an object, got "x"',
    ),
    "labels not a list": (
        board_with(columns=[{"id": "s", "type": "status", "settings": {"labels": "Done"}}]),
        "boards[0].columns[0].settings.labels: expected a list of labels",
    ),
    "boards not a list": ({"accounts": [ACME], "boards": {"id": 700}}, "boards: expected a list"),
    "id a string": (
        {"accounts": [{"id": "1", "name": "A"}]},
        "accounts[0].id: expected an integer",
    ),
    "flag a string": (
        {
            "accounts": [ACME],
            "users": [{"id": 30, "account_id": 1, "name": "T", "is_admin": "yes"}],
        },
        'users[0].is_admin: expected true or false, got "yes"',
    ),
    "unknown role": (
        board_with(members=[{"user_id": 10, "role": "KING"}]),
        "boards[0].members[0].role: expected one of OWNER, ADMIN",
    ),
    "too many levels": (board_with(hierarchy_levels=9), "boards[0].hierarchy_levels"),
    "no accounts": (
        {"users": [{"id": 30, "account_id": 1, "name": "T"}]},
        "'accounts' is required",
    ),
    "empty document": ({}, "'accounts' is required"),
}


@pytest.mark.parametrize(("fixture", "message"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_fixture_is_a_400_and_writes_nothing(
    api: Api, fixture: dict[str, Any], message: str
) -> None:
    response = await api.admin("POST", "/__admin/fixture", fixture)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "BAD_USER_INPUT", body
    assert body["error"].startswith("invalid fixture: "), body
    assert message in body["error"], body
    names = {b["name"] for b in (await api.gql("{ boards { name } }"))["boards"]}
    assert names == {"Leads", "Roadmap"}
    assert (await api.gql("{ account { name } }"))["account"] == {"name": "Acme"}


# The clock


@pytest.mark.parametrize(
    "body",
    [
        {"advance_seconds": True},
        {"advance_seconds": -5},
        {"advance_seconds": 1e308},
        {"advance_seconds": "60"},
        {"advance_seconds": None},
        {"reset": "yes"},
    ],
)
async def test_the_clock_refuses_what_is_no_step_forward(api: Api, body: dict[str, Any]) -> None:
    response = await api.admin("POST", "/__admin/clock", body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_USER_INPUT"
    # the clock still works, and was not moved
    moved = await api.admin("POST", "/__admin/clock", {"advance_seconds": 60})
    assert moved.status_code == 200, moved.text
    assert moved.json()["offset_seconds"] == 60


@pytest.mark.parametrize("job_id", ["%00", "a%00b", "not-a-job", "-1"])
async def test_a_job_id_that_names_no_job_is_a_404(api: Api, job_id: str) -> None:
    # a NUL (%00) went to PostgreSQL as the id and came back as HTTP 500
    response = await api.admin("GET", f"/__admin/jobs/{job_id}")
    assert response.status_code == 404, response.text
    assert response.json() == {"error": "job not found"}


async def test_the_clock_stops_short_of_the_end_of_dates(api: Api) -> None:
    far = 2e11  # about 6,300 years: once is fine, twice is past the year 9999
    try:
        assert (
            await api.admin("POST", "/__admin/clock", {"advance_seconds": far})
        ).status_code == 200
        assert (await api.gql("{ me { id } }")) == {"me": {"id": "10"}}
        refused = await api.admin("POST", "/__admin/clock", {"advance_seconds": far})
        assert refused.status_code == 400, refused.text
        assert "9999-01-01" in refused.json()["error"]
    finally:
        back = await api.admin("POST", "/__admin/clock", {"reset": True})
    assert back.json()["offset_seconds"] == 0


# Reset


BUCKET = "admin-reset"


@pytest.fixture(scope="module")
def reset_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, Path, Any]]:
    """A server whose start fixture is a copy the tests may spoil, on an S3 endpoint the
    tests can reach: (the server, its start fixture, an S3 client)."""
    data_dir = tmp_path_factory.mktemp("admin-data")
    fixture = data_dir / "start.json"
    shutil.copy(DEMO_FIXTURE, fixture)
    with shared_s3(BUCKET) as env:
        s3 = boto3.client(
            "s3",
            endpoint_url=env["S3_ENDPOINT_URL"],
            aws_access_key_id=EMBEDDED_ACCESS_KEY,
            aws_secret_access_key=EMBEDDED_SECRET_KEY,
            region_name=DEFAULT_REGION,
            config=storage.CLIENT_CONFIG,
        )
        started = start_server(data_dir, extra_env=env, fixture=fixture)
        try:
            yield started, fixture, s3
        finally:
            stop_server(started)


@pytest.fixture
async def reset_api(reset_server: tuple[ServerProcess, Path, Any]) -> AsyncIterator[Api]:
    """A client of that server holding the demo fixture and one extra board, 555."""
    server, fixture, _ = reset_server
    shutil.copy(DEMO_FIXTURE, fixture)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        assert (await api.admin("POST", "/__admin/reset")).status_code == 200
        await api.load_fixture(
            {"accounts": [ACME], "boards": [{"id": 555, "account_id": 1, "name": "Extra",
                                             "members": [{"user_id": 10, "role": "OWNER"}]}]}
        )  # fmt: skip
        yield api


async def board_names(api: Api) -> set[str]:
    return {b["name"] for b in (await api.gql("{ boards { name } }"))["boards"]}


@pytest.mark.parametrize(
    "spoiled",
    [
        "{not json",
        '{"accounts": [{"id": "one"}]}',
        '{"accounts": [{"id": 1}], "users": [{"id": 9}]}',
    ],
)
async def test_a_reset_whose_start_fixture_fails_leaves_the_data_as_it_was(
    reset_server: tuple[ServerProcess, Path, Any], reset_api: Api, spoiled: str
) -> None:
    _, fixture, _ = reset_server
    fixture.write_text(spoiled)
    await reset_api.admin("POST", "/__admin/clock", {"advance_seconds": 60})
    response = await reset_api.admin("POST", "/__admin/reset")
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["code"] == "INVALID_START_FIXTURE", body
    assert str(fixture) in body["error"] and "nothing was reset" in body["error"], body
    assert await board_names(reset_api) == {"Leads", "Roadmap", "Extra"}
    # once the file is good again, reset works
    shutil.copy(DEMO_FIXTURE, fixture)
    back = await reset_api.admin("POST", "/__admin/reset")
    assert back.status_code == 200, back.text
    assert await board_names(reset_api) == {"Leads", "Roadmap"}
    clock = await reset_api.admin("POST", "/__admin/clock", {"advance_seconds": 0})
    assert clock.json()["offset_seconds"] == 0


async def test_a_reset_whose_storage_fails_is_a_503_and_leaves_the_data_as_it_was(
    reset_server: tuple[ServerProcess, Path, Any], reset_api: Api
) -> None:
    _, _, s3 = reset_server
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=entry["Key"])
    s3.delete_bucket(Bucket=BUCKET)
    try:
        response = await reset_api.admin("POST", "/__admin/reset")
    finally:
        s3.create_bucket(Bucket=BUCKET)  # us-east-1: no location constraint
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "STORAGE_ERROR", body
    assert "Storage delete failed" in body["error"] and "left as it was" in body["error"], body
    assert await board_names(reset_api) == {"Leads", "Roadmap", "Extra"}
    assert (await reset_api.admin("POST", "/__admin/reset")).status_code == 200
    assert await board_names(reset_api) == {"Leads", "Roadmap"}


# Who sees the admin API: only callers with the token, whatever the method or path

# (method, path) of calls that name an admin path the wrong way: a method the path does not
# take, a trailing slash, a path that does not exist
MISCALLS = [
    ("GET", "/__admin/reset"),
    ("PUT", "/__admin/faults"),
    ("POST", "/__admin/outbox"),
    ("DELETE", "/__admin/jobs/00000000-0000-0000-0000-000000000000"),
    ("GET", "/__admin/outbox/"),
    ("POST", "/__admin/reset/"),
    ("GET", "/__admin/nothing"),
    ("GET", "/__admin/"),
]


@pytest.mark.parametrize(("method", "path"), MISCALLS)
async def test_without_the_admin_token_every_admin_path_is_a_404(
    api: Api, method: str, path: str
) -> None:
    for headers in ({}, {"X-Admin-Token": "wrong"}):
        response = await api.client.request(method, path, headers=headers)
        assert response.status_code == 404, (headers, response.status_code, response.text)


@pytest.mark.parametrize(("method", "path"), MISCALLS)
async def test_a_server_without_an_admin_token_answers_404_on_every_admin_path(
    method: str, path: str
) -> None:
    # the routes read only the settings until a call gets past the token check
    services: Any = SimpleNamespace(settings=SimpleNamespace(admin_token=None))
    app = Starlette(routes=admin_routes(services))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin.test") as client:
        for headers in ({}, {"X-Admin-Token": ""}, {"X-Admin-Token": "anything"}):
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 404, (headers, response.status_code, response.text)


async def test_with_the_admin_token_a_method_a_path_does_not_take_is_a_405(api: Api) -> None:
    response = await api.admin("GET", "/__admin/reset")
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    response = await api.admin("PUT", "/__admin/faults")
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "DELETE, POST"
    assert (await api.admin("GET", "/__admin/nothing")).status_code == 404
    assert (await api.admin("GET", "/__admin/outbox")).status_code == 200
    assert (await api.admin("DELETE", "/__admin/faults")).status_code == 200


# Faults


@pytest.mark.parametrize(
    "body",
    [
        {"operation": "me", "error": "RATE_LIMIT_EXCEEDED", "retry_after_ms": "soon"},
        {"operation": "me", "error": "RATE_LIMIT_EXCEEDED", "retry_after_ms": -1},
        {"operation": "me", "error": "SLOW", "delay_ms": "abc"},
        {"operation": "me", "error": "SLOW", "delay_ms": True},
        {"operation": "me", "error": "NOT_FOUND", "message": 5},
        {"operation": "me", "error": "NOT_FOUND", "count": True},
    ],
)
async def test_a_fault_with_a_malformed_parameter_is_refused_and_never_fires(
    api: Api, body: dict[str, Any]
) -> None:
    response = await api.admin("POST", "/__admin/faults", body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_USER_INPUT"
    # nothing was queued: the call answers as usual (it was a 500 when the fault fired)
    assert await api.gql("{ me { id } }") == {"me": {"id": "10"}}


async def test_a_fault_fires_only_for_the_operation_that_runs(api: Api) -> None:
    fault = {"operation": "me", "error": "NOT_FOUND", "count": 1}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    document = "query A { me { id } } query B { boards(ids: [100]) { id } }"
    response = await api.client.post(
        "/graphql",
        json={"query": document, "operationName": "B"},
        headers={"Authorization": "tok-ada"},
    )
    assert response.json() == {"data": {"boards": [{"id": "100"}]}}
    # the fault is still queued for the next call that runs `me`
    response = await api.client.post(
        "/graphql",
        json={"query": document, "operationName": "A"},
        headers={"Authorization": "tok-ada"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await api.gql("{ me { id } }") == {"me": {"id": "10"}}


@pytest.mark.parametrize("operation", ["ingest_item", "IngestItems", "uploads", ""])
async def test_a_fault_for_an_operation_the_server_does_not_have_is_refused(
    api: Api, operation: str
) -> None:
    # a misspelt operation would be queued and never fire
    fault = {"operation": operation, "error": "NOT_FOUND"}
    response = await api.admin("POST", "/__admin/faults", fault)
    assert response.status_code == 400, response.text
    assert "ingest_items" in response.json()["error"]


@pytest.mark.parametrize(
    "operation", ["ingest_items", "fetch_job_status", "importTodos", "boards", "job_status"]
)
async def test_a_fault_is_taken_for_each_root_field_of_the_schema(api: Api, operation: str) -> None:
    fault = {"operation": operation, "error": "NOT_FOUND"}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "query { ...Me } fragment Me on Query { me { id } }",
        "query { ... on Query { me { id } } }",
        "query { ...Outer } fragment Outer on Query { ...Me } fragment Me on Query { me { id } }",
    ],
)
async def test_a_fault_fires_for_a_root_field_asked_through_a_fragment(
    api: Api, query: str
) -> None:
    fault = {"operation": "me", "error": "NOT_FOUND", "count": 1}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    response = await api.post(query)
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND", response.text


@pytest.mark.parametrize(("method", "path"), MISCALLS)
async def test_without_the_admin_token_an_admin_path_answers_as_a_path_that_does_not_exist(
    api: Api, method: str, path: str
) -> None:
    nowhere = await api.client.request(method, "/no-such-path")
    response = await api.client.request(method, path)
    assert (response.status_code, response.headers["content-type"], response.content) == (
        nowhere.status_code, nowhere.headers["content-type"], nowhere.content,
    )  # fmt: skip
