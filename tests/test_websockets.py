"""The websocket rules of graphql-transport-ws (and the legacy graphql-ws), and revoked tokens.

Two server processes share one database and one bucket, with a one-second connection_init
timeout; a token revoked through one closes the sockets opened on the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

from server import events
from tests.blue import SUBSCRIBE, websocket
from tests.conftest import Api, ServerProcess, server_pair, shared_s3
from tests.importing import postgres_socket

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
INIT_TIMEOUT = "1"  # seconds the servers wait for connection_init
MAX_SUBSCRIPTIONS = 20  # server.app.MAX_SUBSCRIPTIONS_PER_SOCKET
CLOSE_TIMEOUT = 10.0  # seconds a test waits for the server to close a socket


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {"WS_INIT_TIMEOUT_SECONDS": INIT_TIMEOUT}
    with (
        shared_s3("websockets", **env) as env,
        server_pair(tmp_path_factory.mktemp("ws-data"), env) as pair,
    ):
        yield pair


@pytest.fixture
async def api(pair: tuple[ServerProcess, ServerProcess]) -> AsyncIterator[Api]:
    """A client of the first process, on freshly reset data (tokens restored)."""
    async with httpx.AsyncClient(base_url=pair[0].url, timeout=30) as client:
        result = Api(client)
        response = await result.admin("POST", "/__admin/reset")
        assert response.status_code == 200, response.text
        yield result


@pytest.fixture
def url(pair: tuple[ServerProcess, ServerProcess], api: Api) -> str:
    """The first process's URL, on freshly reset data."""
    return pair[0].url


@contextlib.asynccontextmanager
async def raw_socket(
    url: str, protocol: str, headers: dict[str, str] | None = None
) -> AsyncIterator[AsyncWebSocketSession]:
    """A websocket on which nothing has been sent yet (`headers` go with the upgrade request)."""
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient(base_url=url) as client,
        aconnect_ws("/graphql", client, subprotocols=[protocol], headers=headers or {}) as ws,
    ):
        yield ws


async def closed_with(ws: AsyncWebSocketSession) -> int:
    """Read until the server closes the socket; return the close code."""
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            await ws.receive_json(timeout=CLOSE_TIMEOUT)
    return closed.value.code


def subscribe_message(op_id: str, protocol: str = TRANSPORT_WS, user: str = "10") -> dict[str, Any]:
    return {
        "id": op_id,
        "type": "subscribe" if protocol == TRANSPORT_WS else "start",
        "payload": {"query": SUBSCRIBE, "variables": {"p": "leads", "u": user}},
    }


async def assert_alive(ws: AsyncWebSocketSession) -> None:
    await ws.send_json({"type": "ping"})
    assert (await ws.receive_json(timeout=CLOSE_TIMEOUT)) == {"type": "pong"}


async def test_socket_without_connection_init_is_closed_4408(url: str) -> None:
    async with raw_socket(url, TRANSPORT_WS) as ws:
        assert await closed_with(ws) == 4408


# the legacy graphql-ws protocol as well as graphql-transport-ws
@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_subscribe_before_connection_init_is_closed_4401(url: str, protocol: str) -> None:
    async with raw_socket(url, protocol) as ws:
        await ws.send_json(subscribe_message("1", protocol))
        assert await closed_with(ws) == 4401


@pytest.mark.parametrize("payload", [{"Authorization": "not-a-token"}, {}])
async def test_connection_init_with_a_bad_or_no_token_is_closed_4403(
    url: str, payload: dict[str, str]
) -> None:
    async with raw_socket(url, TRANSPORT_WS) as ws:
        await ws.send_json({"type": "connection_init", "payload": payload})
        assert await closed_with(ws) == 4403


# graphql-transport-ws makes the payload optional and nullable; graphql-ws leaves it out too
NO_PAYLOAD = [{"type": "connection_init"}, {"type": "connection_init", "payload": None}]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("init", NO_PAYLOAD, ids=["left out", "null"])
async def test_connection_init_without_a_payload_is_refused_as_unauthenticated(
    url: str, protocol: str, init: dict[str, Any]
) -> None:
    async with raw_socket(url, protocol) as ws:
        await ws.send_json(init)
        if protocol == TRANSPORT_WS:
            assert await closed_with(ws) == 4403
        else:
            refused = await ws.receive_json(timeout=CLOSE_TIMEOUT)
            assert refused["type"] == "connection_error", refused
            assert refused["payload"] == {"message": "Not Authenticated"}, refused
            assert await closed_with(ws) == 1011


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("init", NO_PAYLOAD, ids=["left out", "null"])
async def test_connection_init_without_a_payload_authenticates_by_the_upgrade_headers(
    url: str, protocol: str, init: dict[str, Any]
) -> None:
    async with raw_socket(url, protocol, headers={"Authorization": "tok-ada"}) as ws:
        await ws.send_json(init)
        ack = await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert ack["type"] == "connection_ack", ack


async def test_duplicate_subscription_id_is_closed_4409(url: str) -> None:
    async with websocket(url, TRANSPORT_WS) as ws:
        await ws.send_json(subscribe_message("1"))
        await ws.send_json(subscribe_message("1"))
        assert await closed_with(ws) == 4409


async def test_ping_gets_pong(url: str) -> None:
    async with websocket(url, TRANSPORT_WS) as ws:
        await assert_alive(ws)


async def test_subscriptions_per_socket_are_capped(url: str) -> None:
    async with websocket(url, TRANSPORT_WS) as ws:
        for n in range(MAX_SUBSCRIPTIONS):
            await ws.send_json(subscribe_message(str(n)))
        await ws.send_json(subscribe_message("one too many"))
        refused = await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert refused["id"] == "one too many" and refused["type"] == "error", refused
        assert refused["payload"][0]["message"] == "Subscription limit reached"
        # the socket stays usable, and a finished subscription frees its place
        await assert_alive(ws)
        await ws.send_json({"id": "0", "type": "complete"})
        await ws.send_json(subscribe_message("replacement"))
        await assert_alive(ws)


async def test_legacy_protocol_refuses_a_bad_token(url: str) -> None:
    async with raw_socket(url, LEGACY_WS) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "nope"}})
        refused = await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert refused["type"] == "connection_error", refused
        # 1011, as the legacy protocol's reference server (subscriptions-transport-ws) closes
        assert await closed_with(ws) == 1011


async def revoke(api: Api, token: str) -> httpx.Response:
    return await api.admin("POST", "/__admin/revoke", {"token": token})


async def test_revoked_token_closes_its_open_sockets_on_every_process_with_4403(
    pair: tuple[ServerProcess, ServerProcess], api: Api
) -> None:
    first, second = pair
    async with (
        websocket(second.url, TRANSPORT_WS, token="tok-bob") as bob_there,
        websocket(first.url, LEGACY_WS, token="tok-bob") as bob_here,
        websocket(second.url, TRANSPORT_WS, token="tok-ada") as ada,
    ):
        await bob_there.send_json(subscribe_message("1", user="11"))
        await bob_here.send_json(subscribe_message("1", LEGACY_WS, user="11"))
        response = await revoke(api, "tok-bob")
        assert response.status_code == 200, response.text
        assert response.json()["user_ids"] == [11]
        codes = await asyncio.gather(closed_with(bob_there), closed_with(bob_here))
        assert list(codes) == [4403, 4403]
        await assert_alive(ada)
    # the token no longer works anywhere
    assert (await api.post("{ me { id } }", token="tok-bob")).status_code == 401
    async with raw_socket(second.url, TRANSPORT_WS) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "tok-bob"}})
        assert await closed_with(ws) == 4403


async def test_a_revoke_sent_while_the_listener_was_away_still_closes_the_socket(
    pair: tuple[ServerProcess, ServerProcess], api: Api
) -> None:
    first, _ = pair
    host, port = postgres_socket(first)
    conn = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres")
    listeners = f"FROM pg_stat_activity WHERE application_name = '{events.LISTENER_NAME}'"
    try:
        async with (
            websocket(first.url, TRANSPORT_WS, token="tok-bob") as bob,
            websocket(first.url, TRANSPORT_WS, token="tok-ada") as ada,
        ):
            await bob.send_json(subscribe_message("1", user="11"))
            # cut both processes' listeners; each reconnects after RECONNECT_DELAY
            assert await conn.fetchval(f"SELECT count(pg_terminate_backend(pid)) {listeners}") == 2
            response = await revoke(api, "tok-bob")
            assert response.status_code == 200, response.text
            # the notice went out while no listener was there to hear it
            assert await conn.fetchval(f"SELECT count(*) {listeners}") == 0
            assert await closed_with(bob) == 4403
            await assert_alive(ada)
    finally:
        await conn.close()


async def test_revoking_an_unknown_token_is_404_and_needs_the_admin_token(api: Api) -> None:
    assert (await revoke(api, "never-issued")).status_code == 404
    anonymous = await api.client.post("/__admin/revoke", json={"token": "tok-ada"})
    assert anonymous.status_code == 404
    assert (await api.gql("{ me { id } }")) == {"me": {"id": "10"}}
    bad = await api.admin("POST", "/__admin/revoke", {"nope": 1})
    assert bad.status_code == 400


async def run_over_socket(
    ws: AsyncWebSocketSession, query: str, protocol: str = TRANSPORT_WS
) -> dict[str, Any]:
    """Run one operation on an acknowledged socket; return its first answer."""
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    await ws.send_json({"id": "q", "type": kind, "payload": {"query": query}})
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=CLOSE_TIMEOUT)
        if message["type"] != "ka":
            return message


# the forms clients put their credentials in: Apollo and urql pass `headers`
@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize(
    "payload",
    [
        {"headers": {"Authorization": "Bearer tok-bob"}},
        {"headers": {"x-bloo-token-id": "ada-id", "x-bloo-token-secret": "ada-secret"}},
    ],
)
async def test_connection_init_takes_the_credentials_in_a_headers_object(
    url: str, protocol: str, payload: dict[str, Any]
) -> None:
    async with raw_socket(url, protocol) as ws:
        await ws.send_json({"type": "connection_init", "payload": payload})
        ack = await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert ack["type"] == "connection_ack", ack


@pytest.mark.parametrize(
    ("headers", "payload"),
    [
        ({"API-Version": "2025-10"}, {"Authorization": "tok-ada"}),
        ({}, {"Authorization": "tok-ada", "API-Version": "2025-10"}),
    ],
)
async def test_an_older_api_version_has_no_bulk_import_fields_over_a_socket_either(
    url: str, headers: dict[str, str], payload: dict[str, str]
) -> None:
    async with raw_socket(url, TRANSPORT_WS, headers=headers) as ws:
        await ws.send_json({"type": "connection_init", "payload": payload})
        assert (await ws.receive_json(timeout=CLOSE_TIMEOUT))["type"] == "connection_ack"
        answer = await run_over_socket(ws, '{ fetch_job_status(job_id: "x") { __typename } }')
        errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", answer
        assert "fetch_job_status" in errors[0]["message"]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_malformed_api_version_refuses_the_socket(url: str, protocol: str) -> None:
    async with raw_socket(url, protocol, headers={"API-Version": "latest"}) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "tok-ada"}})
        if protocol == TRANSPORT_WS:
            assert await closed_with(ws) == 4403
        else:
            refused = await ws.receive_json(timeout=CLOSE_TIMEOUT)
            assert refused["type"] == "connection_error", refused
            assert refused["payload"]["extensions"]["code"] == "INVALID_API_VERSION", refused
            # as the HTTP answer's error has
            assert refused["payload"]["extensions"]["request_id"], refused


DEEP = "[" * 100_000 + "]" * 100_000  # JSON nested past Python's recursion limit
BROKEN_MESSAGES = {
    "too deep": DEEP,
    "too deep variables": '{"id": "1", "type": "subscribe", "payload": {"query": "{ me { id } }",'
    f' "variables": {DEEP}}}}}',
    "no object": "5",
    "payload no object": '{"id": "1", "type": "subscribe", "payload": "{ me { id } }"}',
    "query no string": '{"id": "1", "type": "subscribe", "payload": {"query": 5}}',
    "variables no object": '{"id": "1", "type": "subscribe", "payload": '
    '{"query": "{ me { id } }", "variables": "x"}}',
    "id no string": '{"id": 1, "type": "subscribe", "payload": {"query": "{ me { id } }"}}',
}


@pytest.mark.parametrize("text", BROKEN_MESSAGES.values(), ids=BROKEN_MESSAGES.keys())
async def test_a_malformed_message_closes_the_socket_4400_not_abruptly(url: str, text: str) -> None:
    async with raw_socket(url, TRANSPORT_WS) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "tok-ada"}})
        assert (await ws.receive_json(timeout=CLOSE_TIMEOUT))["type"] == "connection_ack"
        await ws.send_text(text)
        assert await closed_with(ws) == 4400


@pytest.mark.parametrize("text", BROKEN_MESSAGES.values(), ids=BROKEN_MESSAGES.keys())
async def test_a_malformed_legacy_message_is_answered_and_the_socket_lives_on(
    url: str, text: str
) -> None:
    async with raw_socket(url, LEGACY_WS) as ws:
        await ws.send_json({"type": "connection_init", "payload": {"Authorization": "tok-ada"}})
        assert (await ws.receive_json(timeout=CLOSE_TIMEOUT))["type"] == "connection_ack"
        await ws.send_text(text.replace('"subscribe"', '"start"'))
        # answered at once (an unknown job), so it shows the socket still serves
        unknown_job = 'subscription { job_status(job_id: "nope") { __typename } }'
        await ws.send_json({"id": "ok", "type": "start", "payload": {"query": unknown_job}})
        # graphql-ws has no close code for a broken message: an error for it, if it names an
        # operation, and the socket serves the next one
        while (message := await ws.receive_json(timeout=CLOSE_TIMEOUT))["type"] == "ka":
            pass
        if message["type"] == "error":
            assert message["payload"]["message"], message
            message = await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert message.get("id") == "ok", message


UNKNOWN_JOB = 'subscription { job_status(job_id: "nope") { __typename } }'


async def answers_to(
    ws: AsyncWebSocketSession, op_id: str, query: str, protocol: str
) -> list[dict[str, Any]]:
    """Send one operation; return the messages answering it, through its `complete` or `error`."""
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    await ws.send_json({"id": op_id, "type": kind, "payload": {"query": query}})
    messages: list[dict[str, Any]] = []
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=CLOSE_TIMEOUT)
        if message["type"] == "ka":
            continue
        assert message.get("id") == op_id, message
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


def errors_in(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The GraphQL errors the messages carry, in either protocol's shape."""
    found: list[dict[str, Any]] = []
    for message in messages:
        payload = message.get("payload")
        if message["type"] == "error":
            found += payload if isinstance(payload, list) else [payload]
        elif message["type"] in ("next", "data"):
            found += payload.get("errors") or []
    return found


PROBE_OPERATIONS = {
    "invalid": "subscription { no_such_field }",
    "refused by a resolver": UNKNOWN_JOB,
}


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_errors_sent_over_a_socket_carry_a_request_id_per_operation(
    url: str, protocol: str
) -> None:
    operations = dict(PROBE_OPERATIONS)
    # graphql-transport-ws runs queries too; graphql-ws refuses them with an error
    operations["query"] = '{ boards(ids: ["1"]) { id } no_such_field }'
    async with websocket(url, protocol) as ws:
        seen: set[str] = set()
        for op_id, query in operations.items():
            messages = await answers_to(ws, op_id, query, protocol)
            errors = errors_in(messages)
            assert errors, messages
            ids = {error.get("extensions", {}).get("request_id") for error in errors}
            assert len(ids) == 1 and all(isinstance(i, str) and i for i in ids), messages
            assert errors[0]["extensions"]["code"], messages
            seen |= ids
        # each operation is a request of its own, as each HTTP request is
        assert len(seen) == len(operations)


async def add_fault(api: Api, **fault: Any) -> None:
    response = await api.admin("POST", "/__admin/faults", fault)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_an_injected_fault_fails_a_subscription_over_a_socket_as_over_http(
    url: str, api: Api, protocol: str
) -> None:
    await add_fault(
        api, operation="job_status", error="RATE_LIMIT_EXCEEDED", count=1, retry_after_ms=1500
    )
    async with websocket(url, protocol) as ws:
        first = await answers_to(ws, "1", UNKNOWN_JOB, protocol)
        # the body an HTTP request gets, as the operation's result, and the operation ends
        answer_type = "next" if protocol == TRANSPORT_WS else "data"
        assert [m["type"] for m in first] == [answer_type, "complete"], first
        assert first[0]["payload"]["data"] is None, first
        (error,) = first[0]["payload"]["errors"]
        assert error["message"] == "Rate limit exceeded for the requested operation", error
        extensions = error["extensions"]
        assert (extensions["code"], extensions["retryAfterMs"]) == ("RATE_LIMIT_EXCEEDED", 1500)
        assert extensions["status_code"] == 429 and extensions["request_id"], error
        # the fault is spent: the next subscription runs (and finds no such job)
        (second, _) = await answers_to(ws, "2", UNKNOWN_JOB, protocol)
        assert errors_in([second])[0]["extensions"]["code"] == "NOT_FOUND", second


async def test_an_injected_fault_fails_a_query_sent_over_a_socket(url: str, api: Api) -> None:
    await add_fault(api, operation="me", error="INTERNAL_SERVER_ERROR")
    async with websocket(url, TRANSPORT_WS) as ws:
        (failed, complete) = await answers_to(ws, "1", "{ me { id } }", TRANSPORT_WS)
        assert failed["type"] == "next" and complete["type"] == "complete", failed
        (error,) = failed["payload"]["errors"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR", error
        assert error["extensions"]["status_code"] == 500 and error["extensions"]["request_id"]
        (answer, _) = await answers_to(ws, "2", "{ me { id } }", TRANSPORT_WS)
        assert answer["payload"] == {"data": {"me": {"id": "10"}}}, answer


async def test_an_injected_slow_fault_delays_an_operation_sent_over_a_socket(
    url: str, api: Api
) -> None:
    await add_fault(api, operation="me", error="SLOW", delay_ms=700)
    async with websocket(url, TRANSPORT_WS) as ws:
        started = time.monotonic()
        (answer, _) = await answers_to(ws, "1", "{ me { id } }", TRANSPORT_WS)
        assert answer["payload"] == {"data": {"me": {"id": "10"}}}, answer
        assert time.monotonic() - started >= 0.7


TWO_OPERATIONS = "query A { me { id } } query B { me { name } }"
TWO_SUBSCRIPTIONS = (
    'subscription A { job_status(job_id: "a") { __typename } } '
    'subscription B { job_status(job_id: "b") { __typename } }'
)
MULTIPLE_OPERATIONS = "Must provide operation name if query contains multiple operations."
OPERATION_CHOICES = {
    # query, operationName (None: left out), what graphql-core answers
    "two queries": (TWO_OPERATIONS, None, MULTIPLE_OPERATIONS),
    "two subscriptions": (TWO_SUBSCRIPTIONS, None, MULTIPLE_OPERATIONS),
    "two, empty name": (TWO_SUBSCRIPTIONS, "", MULTIPLE_OPERATIONS),
    "unknown name": (TWO_SUBSCRIPTIONS, "C", 'Unknown operation named "C".'),
    "long unknown name": (TWO_SUBSCRIPTIONS, "N" * 5000, f'Unknown operation named "{"N" * 100}...".'),
    "no operation": ("fragment F on User { id }", None, "Must provide an operation."),
}  # fmt: skip


def operation_message(
    protocol: str, query: str, name: str | None, op_id: str = "1"
) -> dict[str, Any]:
    payload: dict[str, Any] = {"query": query}
    if name is not None:
        payload["operationName"] = name
    kind = "subscribe" if protocol == TRANSPORT_WS else "start"
    return {"id": op_id, "type": kind, "payload": payload}


@pytest.mark.parametrize(
    ("query", "name", "message"), OPERATION_CHOICES.values(), ids=OPERATION_CHOICES.keys()
)
async def test_an_operation_choice_graphql_refuses_closes_the_socket_4400(
    url: str, query: str, name: str | None, message: str
) -> None:
    # as strawberry closes it for an unknown operation name (and a syntax error); it ran the
    # first operation of several
    async with websocket(url, TRANSPORT_WS) as ws:
        await ws.send_json(operation_message(TRANSPORT_WS, query, name))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert closed.value.code == 4400
        # a close frame's reason has room for 123 bytes
        assert closed.value.reason == (message if len(message) <= 123 else message[:120] + "...")


@pytest.mark.parametrize(
    ("query", "name", "message"), OPERATION_CHOICES.values(), ids=OPERATION_CHOICES.keys()
)
async def test_an_operation_choice_graphql_refuses_gets_a_legacy_error_message(
    url: str, query: str, name: str | None, message: str
) -> None:
    async with websocket(url, LEGACY_WS) as ws:
        await ws.send_json(operation_message(LEGACY_WS, query, name))
        while (answer := await ws.receive_json(timeout=CLOSE_TIMEOUT))["type"] == "ka":
            pass
        assert answer["type"] == "error" and answer["id"] == "1", answer
        assert answer["payload"]["message"] == message, answer
        assert answer["payload"]["extensions"]["request_id"], answer
        # the socket serves the next operation
        await ws.send_json(operation_message(LEGACY_WS, UNKNOWN_JOB, None, "2"))
        while (answer := await ws.receive_json(timeout=CLOSE_TIMEOUT))["type"] == "ka":
            pass
        assert answer["id"] == "2" and errors_in([answer])[0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_an_empty_operation_name_means_none_over_a_socket_too(
    url: str, protocol: str
) -> None:
    # as over HTTP; strawberry looked for an operation named ""
    async with websocket(url, protocol) as ws:
        await ws.send_json(operation_message(protocol, UNKNOWN_JOB, ""))
        while (answer := await ws.receive_json(timeout=CLOSE_TIMEOUT))["type"] == "ka":
            pass
        assert answer["type"] in ("next", "data"), answer
        assert errors_in([answer])[0]["extensions"]["code"] == "NOT_FOUND", answer


async def test_a_named_operation_of_several_runs_over_a_socket(url: str) -> None:
    async with websocket(url, TRANSPORT_WS) as ws:
        await ws.send_json(operation_message(TRANSPORT_WS, TWO_OPERATIONS, "B"))
        answer = await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert answer["payload"] == {"data": {"me": {"name": "Ada Admin"}}}, answer


async def test_a_long_syntax_error_closes_the_socket_4400_not_abruptly(url: str) -> None:
    # strawberry closes with the syntax error's message, which quotes the client's text: a
    # reason past 123 bytes dropped the socket without a close frame
    async with websocket(url, TRANSPORT_WS) as ws:
        await ws.send_json(operation_message(TRANSPORT_WS, "{ me { id } } " + "Z" * 500, None))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert closed.value.code == 4400
        assert closed.value.reason.startswith("Syntax Error: Unexpected Name 'ZZZ")
        assert closed.value.reason.endswith("...") and len(closed.value.reason) == 123


async def test_a_syntax_error_gets_a_legacy_error_message(url: str) -> None:
    # strawberry let it escape as an internal error: graphql-ws answered nothing at all
    async with websocket(url, LEGACY_WS) as ws:
        await ws.send_json(operation_message(LEGACY_WS, "subscription { job_status(", None))
        while (answer := await ws.receive_json(timeout=CLOSE_TIMEOUT))["type"] == "ka":
            pass
        assert answer["type"] == "error" and answer["id"] == "1", answer
        assert answer["payload"]["message"].startswith("Syntax Error"), answer
        assert answer["payload"]["extensions"]["request_id"], answer


async def test_a_syntax_error_closes_the_socket_4400_with_its_message(url: str) -> None:
    # strawberry let it escape as an internal error: graphql-transport-ws sent only `complete`
    async with websocket(url, TRANSPORT_WS) as ws:
        await ws.send_json(operation_message(TRANSPORT_WS, "{ me { id ", None))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                await ws.receive_json(timeout=CLOSE_TIMEOUT)
        assert closed.value.code == 4400
        assert closed.value.reason == "Syntax Error: Expected Name, found <EOF>."
