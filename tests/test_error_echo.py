"""An error message repeats a value it refuses at most 100 characters long (then "..."), and
so does its error_data: a megabyte argument does not come back in the answer."""

from __future__ import annotations

import pytest

from tests.blue import websocket
from tests.conftest import Api
from tests.importing import run_import

LONG = "Q" * 1_000_000
CLIPPED = "Q" * 100 + "..."
SMALL_ANSWER = 2_000  # bytes: an error answer, with its request id and extensions


async def refused(api: Api, query: str, variables: dict[str, object]) -> dict[str, object]:
    response = await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": "tok-ada"},
    )
    assert len(response.content) < SMALL_ANSWER, response.content[:300]
    error: dict[str, object] = response.json()["errors"][0]
    return error


async def test_an_unknown_job_id_is_echoed_clipped_in_message_and_error_data(api: Api) -> None:
    error = await refused(
        api, "query($j: ID!) { fetch_job_status(job_id: $j) { __typename } }", {"j": LONG}
    )
    assert error["message"] == f"Job {CLIPPED} not found"
    assert error["extensions"]["error_data"] == {"job_id": CLIPPED}  # type: ignore[index]


async def test_an_unknown_group_id_is_echoed_clipped(api: Api) -> None:
    error = await refused(
        api,
        'mutation($g: String!) { ingest_items(board_id: "100", group_id: $g) { job_id } }',
        {"g": LONG},
    )
    assert error["message"] == f"Group '{CLIPPED}' not found on board 100"
    assert error["extensions"]["error_data"] == {"group_id": CLIPPED}  # type: ignore[index]


async def test_an_unknown_column_id_is_echoed_clipped(api: Api) -> None:
    error = await refused(
        api,
        "mutation($c: String!) { change_simple_column_value(board_id: 100, item_id: 1000,"
        ' column_id: $c, value: "x") { id } }',
        {"c": LONG},
    )
    assert error["message"] == f"Column '{CLIPPED}' not found on board 100"


async def test_a_malformed_api_version_is_echoed_clipped(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={"Authorization": "tok-ada", "API-Version": "V" * 5000},
    )
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert message.startswith(f"Invalid API version '{'V' * 100}...': expected YYYY-MM"), message


async def test_a_long_unknown_header_of_a_file_is_echoed_clipped(api: Api) -> None:
    status = await run_import(api, f"name,{'H' * 100_000}\nAda,x\n")
    assert status["failure_reason"] == "INVALID_UPLOAD", status
    assert status["failure_message"].startswith(f"Header '{'H' * 100}...' is not a column id")


GRAPHQL_REFUSALS = {
    "a string literal for an Int": ('{ boards(limit: "%s") { id } }' % ("Q" * 5000), {}),
    "a number literal for a String": (
        '{ items_by_column_values(board_id: "100", column_id: %s, column_value: "x") { id } }'
        % ("1" * 5000),
        {},
    ),
    "an unknown field": ("{ %s }" % ("Q" * 5000), {}),
    "a variable value for an Int": ("query($l: Int) { boards(limit: $l) { id } }", {"l": LONG}),
}


@pytest.mark.parametrize("case", list(GRAPHQL_REFUSALS))
async def test_graphql_validation_messages_clip_the_value_they_repeat(api: Api, case: str) -> None:
    query, variables = GRAPHQL_REFUSALS[case]
    error = await refused(api, query, variables)
    message = str(error["message"])
    assert len(message) < 300 and message.count("...") == 1, message
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # type: ignore[index]


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_graphql_validation_messages_over_a_socket_clip_the_value_too(
    api: Api, protocol: str
) -> None:
    query = 'subscription { job_status(job_id: "1", %s: 1) { __typename } }' % ("Q" * 5000)
    kind = "subscribe" if protocol == "graphql-transport-ws" else "start"
    async with websocket(str(api.client.base_url), protocol) as ws:
        await ws.send_json({"id": "1", "type": kind, "payload": {"query": query}})
        while (answer := await ws.receive_json(timeout=10))["type"] == "ka":
            pass
    payload = answer["payload"]
    error = payload[0] if isinstance(payload, list) else payload
    assert answer["type"] == "error" and len(error["message"]) < 300, answer
    assert error["message"].count("...") == 1, answer
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", answer
