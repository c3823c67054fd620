"""GraphQL abuse limits: depth, aliases, tokens; no stack traces."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from strawberry.extensions import validation_cache

from server.api import schema as api_schema
from tests.conftest import Api


async def test_query_deeper_than_six_levels_is_refused(api: Api) -> None:
    deep = "{ boards { items { board { items { board { items { board { id } } } } } } } }"
    response = await api.post(deep)
    error = response.json()["errors"][0]
    assert "exceeds maximum operation depth" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # six levels pass the depth limit; limits keep it inside the complexity budget
    ok = await api.post(
        "{ boards(limit: 1) { items(limit: 1) { board { items(limit: 1) { board { id } } } } } }"
    )
    assert "errors" not in ok.json()


async def test_too_many_aliases_even_through_fragments_are_refused(api: Api) -> None:
    aliases = " ".join(f"a{i}: me {{ id }}" for i in range(20))
    query = f"query {{ ...F {aliases} }} fragment F on Query {{ {aliases.replace('a', 'b')} }}"
    response = await api.post(query)
    assert "aliases found" in response.json()["errors"][0]["message"]


async def test_oversized_documents_are_refused(api: Api) -> None:
    query = "{ me { " + "id " * 12000 + "} }"
    response = await api.post(query)
    assert "token" in response.json()["errors"][0]["message"].lower()


async def test_a_body_past_five_mib_is_refused_before_it_is_read_whole(api: Api) -> None:
    query = (
        "query($v: String!) { items_by_column_values(board_id: 100, column_id: "
        '"name", column_value: $v) { id } }'
    )
    headers = {"Authorization": "tok-ada", "Content-Type": "application/json"}
    fits = json.dumps({"query": query, "variables": {"v": "x" * 5_000_000}})
    response = await api.client.post("/graphql", content=fits, headers=headers)
    assert response.status_code == 200 and "errors" not in response.json(), response.text[:300]
    big = json.dumps({"query": query, "variables": {"v": "x" * (6 * 1024 * 1024)}})
    for body in (big.encode(), _chunks(big.encode())):  # declared length, then chunked
        response = await api.client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert (await api.gql("{ me { id } }"))["me"]["id"]


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 1 << 20):
        yield body[start : start + (1 << 20)]


async def test_errors_never_carry_stack_traces(api: Api) -> None:
    response = await api.post('{ items(ids: ["x' + "\\u0000" + '"]) { id } }')
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


async def test_variables_of_the_wrong_type_are_the_callers_error(api: Api) -> None:
    query = "query($id: ID!) { fetch_job_status(job_id: $id) { __typename } }"
    response = await api.post(query, {})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "$id" in error["message"]


async def test_a_repeated_query_is_validated_once() -> None:
    # a poll repeats one query text: validating it again each time was most of its cost
    cache = validation_cache._get_validate_cache(api_schema.PARSED_QUERIES)
    before = cache.cache_info()
    query = "query Repeated { __typename }"
    for _ in range(3):
        result = await api_schema.schema.execute(query)
        assert result.errors is None and result.data == {"__typename": "Query"}
    after = cache.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)
