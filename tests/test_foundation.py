"""Start-up, health, fixtures, reset and the admin API, through HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Api, ServerProcess

BOARDS = "{ boards { id name columns { id type } } }"


async def test_healthz_answers_ok_once_database_and_s3_answer(server: ServerProcess) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_start_fixture_is_loaded_and_readable_with_the_demo_token(api: Api) -> None:
    data = await api.gql(BOARDS)
    names = {b["name"] for b in data["boards"]}
    assert names == {"Leads", "Roadmap"}
    leads = next(b for b in data["boards"] if b["name"] == "Leads")
    assert {"id": "status", "type": "status"} in leads["columns"]


async def test_admin_fixture_loads_additively_and_reset_removes_it(api: Api) -> None:
    await api.load_fixture(
        {
            "accounts": [{"id": 1, "name": "Acme", "slug": "acme", "plan": "enterprise"}],
            "boards": [
                {
                    "id": 555, "account_id": 1, "name": "Extra", "slug": "extra",
                    "members": [{"user_id": 10, "role": "OWNER"}],
                    "columns": [{"id": "text", "title": "Text", "type": "text"}],
                }
            ],
        }
    )  # fmt: skip
    names = {b["name"] for b in (await api.gql(BOARDS))["boards"]}
    assert names == {"Leads", "Roadmap", "Extra"}
    assert (await api.admin("POST", "/__admin/reset")).status_code == 200
    names = {b["name"] for b in (await api.gql(BOARDS))["boards"]}
    assert names == {"Leads", "Roadmap"}


async def test_admin_api_needs_the_admin_token(api: Api) -> None:
    response = await api.client.post("/__admin/reset")
    assert response.status_code == 404
    response = await api.client.post("/__admin/reset", headers={"X-Admin-Token": "wrong"})
    assert response.status_code == 404


async def test_invalid_fixture_is_refused_with_a_message(api: Api) -> None:
    response = await api.admin(
        "POST",
        "/__admin/fixture",
        {"accounts": [{"id": 1, "name": "Acme", "slug": "acme"}],
         "boards": [{"id": 9, "account_id": 1, "name": "B", "slug": "b",
                     "columns": [{"id": "x", "title": "X", "type": "nonsense"}]}]},
    )  # fmt: skip
    assert response.status_code == 400
    assert "nonsense" in response.json()["error"]


async def test_clock_moves_forward_and_back(api: Api) -> None:
    moved = await api.admin("POST", "/__admin/clock", {"advance_seconds": 3600})
    assert moved.json()["offset_seconds"] == 3600
    back = await api.admin("POST", "/__admin/clock", {"reset": True})
    assert back.json()["offset_seconds"] == 0
    bad = await api.admin("POST", "/__admin/clock", {"advance": "soon"})
    assert bad.status_code == 400


async def test_graphiql_is_served_to_browsers(server: ServerProcess) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_the_api_answers_with_and_without_a_trailing_slash(api: Api) -> None:
    # monday's documented URL is https://api.monday.com/v2/
    for path in ("/v2", "/v2/", "/graphql", "/graphql/"):
        response = await api.client.post(
            path, json={"query": "{ me { id } }"}, headers={"Authorization": "tok-ada"}
        )
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.json() == {"data": {"me": {"id": "10"}}}, path


def _is_graphql_error(response: httpx.Response, status: int) -> str:
    """Assert `response` is a GraphQL error of HTTP `status` in JSON; return its message."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST", error
    assert error["extensions"]["request_id"]
    return str(error["message"])


DEEP = b"[" * 100_000 + b"]" * 100_000  # JSON nested past Python's recursion limit
MALFORMED_REQUESTS = {
    "not JSON": (b'{"query":', "application/json"),
    "empty": (b"", "application/json"),
    "not UTF-8": (b'{"query": "{ me { id } }\xff"}', "application/json"),
    "too deep": (DEEP, "application/json"),
    "too deep variables": (b'{"query": "{ me { id } }", "variables": ' + DEEP + b"}",
                           "application/json"),
    "a string": (b'"{ me { id } }"', "application/json"),
    "null": (b"null", "application/json"),
    "a number": (b"42", "application/json"),
    "a batch": (b'[{"query": "{ me { id } }"}]', "application/json"),
    "no query": (b"{}", "application/json"),
    "query no string": (b'{"query": 5}', "application/json"),
    "variables no object": (b'{"query": "{ me { id } }", "variables": "{}"}', "application/json"),
    "text/plain": (b'{"query": "{ me { id } }"}', "text/plain"),
    "application/graphql": (b"{ me { id } }", "application/graphql"),
    "form": (b"query=%7Bme%7Bid%7D%7D", "application/x-www-form-urlencoded"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "content_type"), MALFORMED_REQUESTS.values(), ids=MALFORMED_REQUESTS.keys()
)
async def test_a_malformed_request_gets_a_json_graphql_error_not_plain_text(
    api: Api, body: bytes, content_type: str
) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={"Authorization": "tok-ada", "Content-Type": content_type}
    )
    _is_graphql_error(response, 400)


async def test_an_unknown_operation_name_gets_a_json_graphql_error(api: Api) -> None:
    query = "query A { me { id } } query B { me { name } }"
    response = await api.client.post(
        "/graphql",
        json={"query": query, "operationName": "C"},
        headers={"Authorization": "tok-ada"},
    )
    assert '"C"' in _is_graphql_error(response, 400)


TWO_OPERATIONS = "query A { me { id } } query B { me { name } }"
MULTIPLE_OPERATIONS = "Must provide operation name if query contains multiple operations."


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("name", [None, ""], ids=["left out", "empty"])
async def test_two_operations_without_a_name_are_refused_not_the_first_run(
    api: Api, method: str, name: str | None
) -> None:
    # graphql-core's answer; strawberry alone ran the first operation
    payload: dict[str, str] = {"query": TWO_OPERATIONS}
    if name is not None:
        payload["operationName"] = name
    auth = {"Authorization": "tok-ada"}
    if method == "POST":
        response = await api.client.post("/graphql", json=payload, headers=auth)
    else:
        response = await api.client.get("/graphql", params=payload, headers=auth)
    assert _is_graphql_error(response, 400) == MULTIPLE_OPERATIONS
    assert "data" not in response.json()  # a request error: nothing ran


async def test_refused_operation_choices_run_nothing_and_fire_no_fault(api: Api) -> None:
    # the mutation would have run first; a fault queued for it stays queued
    fault = {"operation": "create_group", "error": "INTERNAL_SERVER_ERROR"}
    assert (await api.admin("POST", "/__admin/faults", fault)).status_code == 200
    auth = {"Authorization": "tok-ada"}
    document = (
        'mutation M { create_group(board_id: 100, group_name: "x") { id } } ' + TWO_OPERATIONS
    )
    response = await api.client.post("/graphql", json={"query": document}, headers=auth)
    assert _is_graphql_error(response, 400) == MULTIPLE_OPERATIONS
    groups = await api.gql("{ boards(ids: [100]) { groups { title } } }")
    assert "x" not in {g["title"] for g in groups["boards"][0]["groups"]}
    response = await api.client.post(
        "/graphql", json={"query": document, "operationName": "M"}, headers=auth
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_a_document_without_an_operation_is_a_request_error(api: Api) -> None:
    response = await api.client.post(
        "/graphql", json={"query": "fragment F on User { id }"},
        headers={"Authorization": "tok-ada"},
    )  # fmt: skip
    assert _is_graphql_error(response, 400) == "Must provide an operation."


async def test_an_unknown_operation_name_is_echoed_at_most_100_characters(api: Api) -> None:
    response = await api.client.post(
        "/graphql", json={"query": TWO_OPERATIONS, "operationName": "N" * 5000},
        headers={"Authorization": "tok-ada"},
    )  # fmt: skip
    assert _is_graphql_error(response, 400) == f'Unknown operation named "{"N" * 100}...".'


async def test_an_empty_operation_name_means_none_was_given(api: Api) -> None:
    # some clients send "" for "no operation name"; the document's only operation runs
    response = await api.client.post(
        "/graphql",
        json={"query": "query A { me { id } }", "operationName": ""},
        headers={"Authorization": "tok-ada"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": {"id": "10"}}}


async def test_get_refusals_are_json_graphql_errors(api: Api) -> None:
    auth = {"Authorization": "tok-ada"}
    mutation = 'mutation { create_group(board_id: 100, group_name: "x") { id } }'
    response = await api.client.get("/graphql", params={"query": mutation}, headers=auth)
    assert "GET" in _is_graphql_error(response, 400)
    bad_variables = {"query": "{ me { id } }", "variables": "not json"}
    response = await api.client.get("/graphql", params=bad_variables, headers=auth)
    _is_graphql_error(response, 400)
    response = await api.client.get(
        "/graphql", params={"query": "query A { me { id } } query B { me { name } }",
                            "operationName": "B"}, headers=auth,
    )  # fmt: skip
    assert response.json() == {"data": {"me": {"name": "Ada Admin"}}}


@pytest.mark.parametrize(("method", "path"), [("PUT", "/graphql"), ("DELETE", "/graphql/"),
                                              ("GET", "/v2"), ("PATCH", "/v2/")])  # fmt: skip
async def test_a_method_the_api_does_not_take_is_a_json_405(
    api: Api, method: str, path: str
) -> None:
    response = await api.client.request(method, path, headers={"Authorization": "tok-ada"})
    assert response.status_code == 405, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["allow"]


@pytest.mark.parametrize("accept", ["application/json", "multipart/mixed", "text/event-stream"])
async def test_a_subscription_over_http_is_refused_with_a_pointer_to_the_websocket(
    api: Api, accept: str
) -> None:
    # it ran as a query and failed as an internal error (logged as one)
    subscription = 'subscription { job_status(job_id: "x") { __typename } }'
    headers = {"Authorization": "tok-ada", "Accept": accept}
    response = await api.client.post("/graphql", json={"query": subscription}, headers=headers)
    assert "websocket" in _is_graphql_error(response, 400)
    response = await api.client.get("/graphql", params={"query": subscription}, headers=headers)
    assert "websocket" in _is_graphql_error(response, 400)
    # a document whose subscription is not the operation that runs is served
    document = (
        f"query Me {{ me {{ id }} }} {subscription.replace('subscription', 'subscription S')}"
    )
    response = await api.client.post(
        "/graphql", json={"query": document, "operationName": "Me"}, headers=headers
    )
    assert response.json() == {"data": {"me": {"id": "10"}}}
