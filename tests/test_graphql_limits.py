"""GraphQL abuse limits: depth, aliases, tokens; no stack traces."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import psutil
import pytest
import websockets
from websockets.typing import Subprotocol

from server import auth
from server.api import documents, view
from server.api import schema as api_schema
from tests.blue import websocket
from tests.conftest import Api, ServerProcess

MIB = 1024 * 1024


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
    cache = documents._validated
    before = cache.cache_info()
    query = "query Repeated { __typename }"
    for _ in range(3):
        result = await api_schema.schema.execute(query)
        assert result.errors is None and result.data == {"__typename": "Query"}
    after = cache.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)


def test_every_parse_stops_at_the_token_limit() -> None:
    # graphql-core's own parse has no limit: 2.4 million field names held the event loop 35 s
    query = "{ me { " + "id " * (documents.MAX_TOKENS * 3) + "} }"
    assert documents.parsed(query) is None
    error = documents.syntax_error(query)
    assert error is not None and "more than 10000 tokens" in error.message
    assert view.root_fields(query) == () and not view.runs_subscription(query)
    assert view.operation_problem(query, None) is None  # strawberry reports the syntax error
    assert auth.version_gated_fields(query, "2023-10") == []


def test_long_texts_are_kept_only_for_their_requests() -> None:
    kept_before = len(documents._kept.documents)
    for n in range(documents.LONG_TEXTS_KEPT + 5):
        query = f"{{ me {{ id }} }} # {n} " + "x" * documents.SHORT_TEXT
        assert documents.parsed(query) is not None
        assert view.root_fields(query) == ("me",)
        assert not documents.is_kept(query)
    assert len(documents._passing.documents) == documents.LONG_TEXTS_KEPT
    assert len(documents._kept.documents) == kept_before


def test_the_query_caches_hold_documents_of_few_tokens_only() -> None:
    # 512 distinct 10 KB texts of 10,000 tokens each were kept, parsed and validated: the
    # server grew 1.5 GiB, and its rare full collections held the event loop a second
    kept_before = len(documents._kept.documents)
    for n in range(20):
        query = f"query Q{n} {{ me {{ " + "id " * documents.KEPT_TOKENS + "} }"
        assert documents.parsed(query) is not None and view.root_fields(query) == ("me",)
        assert not documents.is_kept(query)
    assert len(documents._kept.documents) == kept_before
    small = "query Small { me { id name } }"
    assert documents.parsed(small) is not None and documents.is_kept(small)


def test_a_syntax_error_is_told_from_the_one_parse() -> None:
    # parsing 5 MB again to its 10,000th token, to say why it failed, held the loop 0.3 s
    query = "{ me { " + "id " * (documents.MAX_TOKENS + 10) + "} }"
    first = documents.syntax_error(query)
    assert first is not None and first.__traceback__ is None
    assert documents.syntax_error(query) is first


async def test_large_requests_leave_no_memory_behind(api: Api, server: ServerProcess) -> None:
    # a request's body stayed in a reference cycle (graphql-core's execution context -> its
    # Context -> the request) until a rare collection: 200 requests of 5 MB grew it 2.8 GiB
    process = psutil.Process(server.process.pid)
    padding = "x" * 4_900_000
    before = process.memory_info().rss
    for n in range(30):
        body = {"query": "{ me { id } }", "extensions": {"padding": f"{n}{padding}"}}
        response = await api.client.post(
            "/graphql", json=body, headers={"Authorization": "tok-ada"}
        )
        assert response.json()["data"]["me"]["id"]
    grown = process.memory_info().rss - before
    assert grown < 100 * MIB, f"the server grew {grown / MIB:.0f} MiB"


async def test_long_websocket_operations_leave_no_memory_behind(
    api: Api, server: ServerProcess
) -> None:
    # an operation's parsed document is a reference cycle (its tokens link both ways)
    # holding its text twice, and a socket's operations make too few objects for the rare
    # collections: 20 operations of 5 MB held 190 MiB after their socket closed (these 24,
    # 57 MiB; 13-17 MiB since). A young-generation collection (gc.collect(1)) is not enough:
    # each operation's collection promotes the documents still kept for the last few texts,
    # which then leave the cache as old garbage (these 24 grew it 32-37 MiB).
    process = psutil.Process(server.process.pid)
    comment = "#" + "x" * 1_100_000
    before = process.memory_info().rss
    async with websocket(server.url, "graphql-transport-ws") as ws:
        for n in range(24):
            payload = {"query": f"{{ me {{ id }} }} {comment}{n}"}
            await ws.send_json({"id": str(n), "type": "subscribe", "payload": payload})
            answer = await ws.receive_json(timeout=30)
            assert answer["payload"]["data"]["me"]["id"], answer
            assert (await ws.receive_json(timeout=30))["type"] == "complete"
    grown = process.memory_info().rss - before
    assert grown < 25 * MIB, f"the server grew {grown / MIB:.0f} MiB"


async def test_variables_of_more_than_ten_thousand_values_are_refused_before_coercion(
    api: Api,
) -> None:
    # graphql-core coerces a variable value by value, on the event loop, before anything
    # runs: 600,000 ids (4.5 MB) held it 2.4 s a request, 1.9 million over a websocket 8.6 s
    query = "query($ids: [ID!]) { boards(ids: $ids) { id } }"
    response = await api.post(query, {"ids": [str(n) for n in range(20_000)]})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "more than 10000 values" in error["message"]
    data = await api.gql(query, {"ids": ["100", *(str(n) for n in range(10**6, 10**6 + 9_000))]})
    assert data["boards"] == [{"id": "100"}]


async def test_a_websocket_message_past_five_mib_closes_the_socket(api: Api) -> None:
    # uvicorn reads messages of up to 16 MiB: checking 14 MiB of variables held the event
    # loop 1.3 s, where an HTTP body stops at 5 MiB
    query = "mutation($c: JSON!) { change_multiple_column_values(board_id: 100, item_id: 1000, column_values: $c) { id } }"
    payload = {"query": query, "variables": {"c": "x" * (6 * MIB)}}
    url = str(api.client.base_url).replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": "tok-ada"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
