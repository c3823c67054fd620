"""Authentication and API versions (CONTRACT §2)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import Api, ServerProcess

ME = "{ me { id name } }"
UNAUTHENTICATED = {
    "errors": [{"message": "Not Authenticated", "extensions": {"code": "UNAUTHENTICATED"}}]
}


async def test_request_without_token_gets_401(api: Api) -> None:
    response = await api.post(ME, token=None)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


async def test_request_with_unknown_token_gets_401(api: Api) -> None:
    response = await api.post(ME, token="not-a-token")
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


async def test_token_works_with_and_without_bearer(api: Api) -> None:
    plain = await api.gql(ME, token="tok-bob")
    bearer = await api.gql(ME, token="Bearer tok-bob")
    assert plain == bearer == {"me": {"id": "11", "name": "Bob Member"}}


async def test_blue_token_headers_authenticate(api: Api) -> None:
    headers = {"x-bloo-token-id": "ada-id", "x-bloo-token-secret": "ada-secret",
               "x-bloo-company-id": "acme"}  # fmt: skip
    data = await api.gql(ME, token=None, headers=headers)
    assert data == {"me": {"id": "10", "name": "Ada Admin"}}


async def test_blue_token_with_wrong_secret_or_company_gets_401(api: Api) -> None:
    wrong_secret = {"x-bloo-token-id": "ada-id", "x-bloo-token-secret": "nope"}
    assert (await api.post(ME, token=None, headers=wrong_secret)).status_code == 401
    wrong_company = {"x-bloo-token-id": "ada-id", "x-bloo-token-secret": "ada-secret",
                     "x-bloo-company-id": "globex"}  # fmt: skip
    assert (await api.post(ME, token=None, headers=wrong_company)).status_code == 401


async def test_missing_api_version_means_current(api: Api) -> None:
    response = await api.post('{ fetch_job_status(job_id: "x") { __typename } }')
    body = response.json()
    assert "Cannot query field" not in str(body)


async def test_malformed_api_version_gets_400(api: Api) -> None:
    for bad in ("2026-7", "latest", "2026-13", "26-07"):
        response = await api.post(ME, version=bad)
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_API_VERSION"


async def test_old_api_version_does_not_have_bulk_import_fields(api: Api) -> None:
    query = 'mutation { ingest_items(board_id: "100", group_id: "topics") { job_id } }'
    response = await api.post(query, version="2025-10")
    body = response.json()
    assert response.status_code == 200
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "ingest_items" in body["errors"][0]["message"]
    # other fields keep working in old versions
    assert (await api.gql(ME, version="2025-10"))["me"]["id"] == "10"


async def test_graphql_errors_carry_code_and_request_id(api: Api) -> None:
    response = await api.post("{ nope }")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["extensions"]["request_id"]
    assert "Traceback" not in response.text


async def raw_post(url: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, Any]:
    """POST /graphql with header values sent byte for byte (httpx refuses a value that ends
    in whitespace, which curl and others send as given)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    lines = [
        "POST /graphql HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json",
        f"Content-Length: {len(body)}", "Connection: close",
        *(f"{name}: {value}" for name, value in headers),
    ]  # fmt: skip
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, payload = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


@pytest.mark.parametrize(
    "value",
    ["Bearer\ttok-bob", "BEARER  tok-bob", "bearer tok-bob", "Bearer \t tok-bob"],
)
async def test_the_bearer_scheme_is_read_whatever_its_case_and_the_blanks_around_it(
    api: Api, value: str
) -> None:
    assert await api.gql(ME, token=value) == {"me": {"id": "11", "name": "Bob Member"}}


async def test_blue_header_values_are_read_without_the_blanks_around_them(
    server: ServerProcess,
) -> None:
    headers = [("x-bloo-token-id", "ada-id "), ("x-bloo-token-secret", "ada-secret  "),
               ("x-bloo-company-id", "acme ")]  # fmt: skip
    status, body = await raw_post(server.url, headers, json.dumps({"query": ME}).encode())
    assert (status, body) == (200, {"data": {"me": {"id": "10", "name": "Ada Admin"}}})
    status, body = await raw_post(
        server.url, [("Authorization", "tok-bob \t")], json.dumps({"query": ME}).encode()
    )
    assert (status, body) == (200, {"data": {"me": {"id": "11", "name": "Bob Member"}}})
