"""Tenant isolation (OWASP API1, BOLA): another account's ids answer like ids that do not exist,
read-only roles cannot import or cancel, and stored files are reached only by pre-signed,
expiring, unguessable URLs."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.blue import REPORT, SUBSCRIBE, next_event, put_file, websocket
from tests.conftest import Api, ServerProcess
from tests.importing import run_import, start_job

INTRUDER = "tok-gus"  # the admin of account 2 (Globex)
MISSING_BOARD = "999999"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

JOB_STATUS = (
    "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { status } } }"
)
JOB_STATUS_SUBSCRIPTION = (
    "subscription($id: ID!) { job_status(job_id: $id) { ... on ItemsJobStatus { status } } }"
)
TEMPLATE = "mutation($i: ExportCSVTemplateInput!) { exportCSVTemplate(input: $i) }"

# (query, variables with {id} where the id goes): every operation of the schema that takes
# the id of a board, item, job or project
BY_BOARD: dict[str, tuple[str, dict[str, Any]]] = {
    "boards": ("query($ids: [ID!]) { boards(ids: $ids) { id name } }", {"ids": ["{id}"]}),
    "ingest_items": (
        'mutation($b: ID!) { ingest_items(board_id: $b, group_id: "topics") { job_id } }',
        {"b": "{id}"},
    ),
    "backfill_items": (
        'mutation($b: ID!) { backfill_items(board_id: $b, group_id: "topics") { job_id } }',
        {"b": "{id}"},
    ),
}
BY_PROJECT: dict[str, tuple[str, dict[str, Any]]] = {
    "createFileUpload": (
        "mutation($i: CreateFileUploadInput!) { createFileUpload(input: $i) { s3Key } }",
        {"i": {"projectId": "{id}", "filename": "a.csv"}},
    ),
    "importTodos": (
        "mutation($i: ImportTodosInput!) { importTodos(input: $i) }",
        {"i": {"projectId": "{id}", "s3Key": "uploads/a.csv", "headers": ["Title"]}},
    ),
    "importRecords": (
        "mutation($i: ImportTodosInput!) { importRecords(input: $i) }",
        {"i": {"projectId": "{id}", "s3Key": "uploads/a.csv", "headers": ["Title"]}},
    ),
    "cancelTodoImport": (
        "mutation($p: String!) { cancelTodoImport(projectId: $p) }",
        {"p": "{id}"},
    ),
    "cancelRecordImport": (
        "mutation($p: String!) { cancelRecordImport(projectId: $p) }",
        {"p": "{id}"},
    ),
    "exportCSVTemplate": (TEMPLATE, {"i": {"projectId": "{id}"}}),
    "exportTodos": (
        "mutation($i: ExportTodosInput!) { exportTodos(input: $i) }",
        {"i": {"projectId": "{id}"}},
    ),
    "exportRecords": (
        "mutation($i: ExportTodosInput!) { exportRecords(input: $i) }",
        {"i": {"projectId": "{id}"}},
    ),
    "todoImportReport": (REPORT, {"p": "{id}"}),
}
# account 1's board 100 by each name Blue accepts, and a name no board has
PROJECT_REFS = [("leads", "no-such-workspace"), ("100", MISSING_BOARD),
                ("clm4n8qwx000008l0g4oxdqn7", "clm4n8qwx000008l0g4oxdqn9")]  # fmt: skip


def with_id(value: Any, given: str) -> Any:
    if isinstance(value, dict):
        return {k: with_id(v, given) for k, v in value.items()}
    if isinstance(value, list):
        return [with_id(v, given) for v in value]
    return given if value == "{id}" else value


def normalised(value: Any, given: str) -> Any:
    """The answer without its request id, and with the id it was asked about (which error
    messages repeat) replaced by a placeholder."""
    if isinstance(value, dict):
        return {k: normalised(v, given) for k, v in value.items() if k != "request_id"}
    if isinstance(value, list):
        return [normalised(v, given) for v in value]
    if isinstance(value, str):
        return value.replace(given, "<id>")
    return value


async def answer(api: Api, query: str, variables: dict[str, Any], given: str) -> Any:
    response = await api.post(query, with_id(variables, given), token=INTRUDER)
    return response.status_code, normalised(response.json(), given)


async def same_answer(
    api: Api, query: str, variables: dict[str, Any], foreign: str, missing: str
) -> Any:
    """What the intruder gets for the foreign id, checked equal to what a missing id gets."""
    theirs = await answer(api, query, variables, foreign)
    nothing = await answer(api, query, variables, missing)
    assert theirs == nothing
    assert "Acme" not in str(theirs) and "Leads" not in str(theirs)
    return theirs


def refusal(answer: Any) -> str:
    """The error code of an answer that must carry no data."""
    status, body = answer
    assert status == 200, answer
    assert not any((body.get("data") or {}).values()), answer
    return str(body["errors"][0]["extensions"]["code"])


@pytest.mark.parametrize("operation", sorted(BY_BOARD))
async def test_another_accounts_board_answers_like_a_missing_one(api: Api, operation: str) -> None:
    query, variables = BY_BOARD[operation]
    theirs = await same_answer(api, query, variables, "100", MISSING_BOARD)
    if operation == "boards":
        assert theirs == (200, {"data": {"boards": []}})
    else:
        assert refusal(theirs) == "NOT_FOUND"


async def test_another_accounts_item_answers_like_a_missing_one(api: Api) -> None:
    query = "query($ids: [ID!]) { items(ids: $ids) { id name } }"
    theirs = await same_answer(api, query, {"ids": ["{id}"]}, "1000", "999999")
    assert theirs == (200, {"data": {"items": []}})
    # and through a board the intruder does see, nothing of account 1 leaks either
    data = await api.gql("{ boards { id items { id } } }", token=INTRUDER)
    assert [b["id"] for b in data["boards"]] == ["300"]


async def test_another_accounts_job_answers_like_a_missing_one(api: Api) -> None:
    job = await start_job(api)  # Ada's, in account 1
    for missing in (str(uuid.uuid4()), "not-a-job-id"):
        theirs = await same_answer(api, JOB_STATUS, {"id": "{id}"}, job["job_id"], missing)
        assert refusal(theirs) == "NOT_FOUND"


@pytest.mark.parametrize("operation", sorted(BY_PROJECT))
@pytest.mark.parametrize(("foreign", "missing"), PROJECT_REFS)
async def test_another_accounts_project_answers_like_a_missing_one(
    api: Api, operation: str, foreign: str, missing: str
) -> None:
    query, variables = BY_PROJECT[operation]
    theirs = await same_answer(api, query, variables, foreign, missing)
    assert refusal(theirs) == "PROJECT_NOT_FOUND"


async def subscription_answer(
    server: ServerProcess, query: str, variables: dict[str, Any], given: str
) -> Any:
    async with websocket(server.url, "graphql-transport-ws", token=INTRUDER) as ws:
        await ws.send_json(
            {"id": "1", "type": "subscribe",
             "payload": {"query": query, "variables": with_id(variables, given)}}
        )  # fmt: skip
        while True:
            message = await ws.receive_json(timeout=30)
            if message["type"] not in ("ping", "pong"):
                return normalised(message, given)


@pytest.mark.parametrize(
    ("variables", "foreign", "missing", "code"),
    [
        # a project of account 1, and a user of account 1
        ({"p": "{id}", "u": "20"}, "leads", "no-such-workspace", "PROJECT_NOT_FOUND"),
        ({"p": "secrets", "u": "{id}"}, "10", "999999", "FORBIDDEN"),
    ],
)
async def test_progress_subscription_to_another_accounts_ids_answers_like_missing_ones(
    api: Api,
    server: ServerProcess,
    variables: dict[str, Any],
    foreign: str,
    missing: str,
    code: str,
) -> None:
    theirs = await subscription_answer(server, SUBSCRIBE, variables, foreign)
    nothing = await subscription_answer(server, SUBSCRIBE, variables, missing)
    assert theirs == nothing
    assert subscription_refusal(theirs) == code


def subscription_refusal(message: dict[str, Any]) -> str:
    """The error code of a subscription refused before its first event."""
    assert message["type"] == "next" and message["payload"]["data"] is None, message
    return str(message["payload"]["errors"][0]["extensions"]["code"])


async def test_job_subscription_to_another_accounts_job_answers_like_a_missing_one(
    api: Api, server: ServerProcess
) -> None:
    job = await start_job(api)
    variables = {"id": "{id}"}
    theirs = await subscription_answer(server, JOB_STATUS_SUBSCRIPTION, variables, job["job_id"])
    nothing = await subscription_answer(
        server, JOB_STATUS_SUBSCRIPTION, variables, str(uuid.uuid4())
    )
    assert theirs == nothing
    assert subscription_refusal(theirs) == "NOT_FOUND"


async def test_subscription_events_of_another_user_never_reach_a_subscriber(
    api: Api, server: ServerProcess
) -> None:
    # Bob (same account, member of the board) asks for Ada's events: refused like any other id
    async with websocket(server.url, "graphql-transport-ws", token="tok-bob") as ws:
        await ws.send_json(
            {"id": "1", "type": "subscribe",
             "payload": {"query": SUBSCRIBE, "variables": {"p": "leads", "u": "10"}}}
        )  # fmt: skip
        event = await next_event(ws)
    assert event["type"] == "error", event


# Read-only roles

SHARED: dict[str, Any] = {
    "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
    "users": [{"id": 13, "account_id": 1, "name": "Cole Commenter",
               "email": "cole@acme.example.com", "token": "tok-cole"}],
    "boards": [{
        "id": 400, "account_id": 1, "name": "Shared", "slug": "shared",
        "members": [{"user_id": 10, "role": "OWNER"}, {"user_id": 12, "role": "VIEW_ONLY"},
                    {"user_id": 13, "role": "COMMENT_ONLY"}],
        "groups": [{"id": "topics", "title": "Topics"}],
        "columns": [{"id": "text", "title": "Notes", "type": "text"}],
        "items": [{"id": 4000, "name": "Visible", "values": {"text": "hello"}}],
    }],
}  # fmt: skip
READ_ONLY = ["tok-vera", "tok-cole"]  # VIEW_ONLY and COMMENT_ONLY on board 400


def error_code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    return str(body["errors"][0]["extensions"]["code"])


@pytest.mark.parametrize("token", READ_ONLY)
async def test_read_only_roles_can_read_the_board_and_its_reports(api: Api, token: str) -> None:
    await api.load_fixture(SHARED)
    data = await api.gql(
        "{ boards(ids: [400]) { id items { id name } } items(ids: [4000]) { name } }", token=token
    )
    assert data["boards"] == [{"id": "400", "items": [{"id": "4000", "name": "Visible"}]}]
    assert data["items"] == [{"name": "Visible"}]
    assert (await api.gql(REPORT, {"p": "shared"}, token=token)) == {"todoImportReport": None}
    template = await api.gql(TEMPLATE, {"i": {"projectId": "shared"}}, token=token)
    assert template["exportCSVTemplate"].startswith("http")


@pytest.mark.parametrize("token", READ_ONLY)
async def test_read_only_roles_cannot_import_or_cancel(api: Api, token: str) -> None:
    await api.load_fixture(SHARED)
    key = await put_file(api, "shared", "Title\nsneaked in\n")
    refused = {
        "ingest_items": ('mutation { ingest_items(board_id: 400, group_id: "topics") { job_id } }', {}),
        "backfill_items": ('mutation { backfill_items(board_id: 400, group_id: "topics") { job_id } }', {}),
        "importTodos": (
            "mutation($i: ImportTodosInput!) { importTodos(input: $i) }",
            {"i": {"projectId": "shared", "s3Key": key, "headers": ["Title"]}},
        ),
        "cancelTodoImport": ('mutation { cancelTodoImport(projectId: "shared") }', {}),
    }  # fmt: skip
    for name, (query, variables) in refused.items():
        response = await api.post(query, variables, token=token)
        body = response.json()
        assert error_code(body) in ("USER_UNAUTHORIZED", "FORBIDDEN"), (name, body)
        assert not (body.get("data") or {}).get(name), (name, body)
    names = await api.gql("{ boards(ids: [400]) { items { name } } }")
    assert names == {"boards": [{"items": [{"name": "Visible"}]}]}
    assert (await api.gql(REPORT, {"p": "shared"})) == {"todoImportReport": None}


# Pre-signed URLs


def signed(url: str) -> dict[str, list[str]]:
    query = parse_qs(urlsplit(url).query)
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"][0]), url
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"], url
    return query


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(url)


def tampered(url: str) -> str:
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    return url.replace(signature, flipped)


async def report_url(api: Api) -> str:
    status = await run_import(api, "name,email\ngood,ok@acme.example.com\nbad,not-an-email\n")
    assert status["report_created"], status
    return str(status["report_url"])


async def template_url(api: Api) -> str:
    data = await api.gql(TEMPLATE, {"i": {"projectId": "leads"}})
    return str(data["exportCSVTemplate"])


async def test_report_url_is_signed_and_unguessable(api: Api) -> None:
    url = await report_url(api)
    signed(url)
    assert UUID.search(urlsplit(url).path), url  # the job's random id
    assert (await get(url)).status_code == 200
    assert (await get(tampered(url))).status_code == 403
    unsigned = url.split("?", 1)[0]
    assert (await get(unsigned)).status_code == 403


async def test_report_url_expires_after_ten_minutes(api: Api) -> None:
    url = await report_url(api)
    assert signed(url)["X-Amz-Expires"] == ["600"]
    assert (await api.admin("POST", "/__admin/clock", {"advance_seconds": 601})).status_code == 200
    expired = await get(url)
    assert expired.status_code == 403
    assert "expired" in expired.text


async def test_template_url_is_signed_and_expires_after_a_day(api: Api) -> None:
    url = await template_url(api)
    assert signed(url)["X-Amz-Expires"] == ["86400"]
    assert (await get(url)).status_code == 200
    assert (await get(tampered(url))).status_code == 403
    assert (
        await api.admin("POST", "/__admin/clock", {"advance_seconds": 86_401})
    ).status_code == 200
    expired = await get(url)
    assert expired.status_code == 403
    assert "expired" in expired.text


async def test_template_url_names_an_unguessable_object(api: Api) -> None:
    url = await template_url(api)
    assert UUID.search(urlsplit(url).path), url
