"""Helpers that drive the monday v2 API as a client would: JSON-encoded values, snake_case args."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import Api


async def create_board(
    api: Api, name: str = "Board", kind: str = "public", token: str = "tok-ada"
) -> str:
    data = await api.gql(
        f"mutation($n: String!) {{ create_board(board_name: $n, board_kind: {kind}) {{ id }} }}",
        {"n": name},
        token=token,
    )
    return str(data["create_board"]["id"])


async def create_column(
    api: Api, board: str, title: str, column_type: str, defaults: Any = None, **kwargs: Any
) -> str:
    data = await api.gql(
        f"""mutation($b: ID!, $t: String!, $d: JSON, $id: String) {{
            create_column(board_id: $b, title: $t, column_type: {column_type}, defaults: $d, id: $id)
            {{ id }} }}""",
        {"b": board, "t": title, "d": None if defaults is None else json.dumps(defaults), **kwargs},
    )
    return str(data["create_column"]["id"])


async def create_item(
    api: Api,
    board: str,
    name: str,
    values: dict[str, Any] | None = None,
    group: str | None = None,
    token: str = "tok-ada",
) -> str:
    data = await api.gql(
        """mutation($b: ID!, $n: String, $g: String, $v: JSON) {
            create_item(board_id: $b, item_name: $n, group_id: $g, column_values: $v) { id } }""",
        {"b": board, "n": name, "g": group, "v": None if values is None else json.dumps(values)},
        token=token,
    )
    return str(data["create_item"]["id"])


async def change_value(
    api: Api, board: str, item: str, column: str, value: Any, token: str = "tok-ada"
) -> httpx.Response:
    """change_column_value with `value` sent as monday asks: JSON.stringify(value)."""
    return await api.post(
        """mutation($b: ID!, $i: ID, $c: String!, $v: JSON!) {
            change_column_value(board_id: $b, item_id: $i, column_id: $c, value: $v) { id } }""",
        {"b": board, "i": item, "c": column, "v": json.dumps(value)},
        token=token,
    )


async def values_of(api: Api, item: str) -> dict[str, tuple[str, Any]]:
    """column id -> (text, decoded value) of the item's stored values."""
    data = await api.gql(
        "query($i: [ID!]) { items(ids: $i) { column_values { id text value } } }", {"i": [item]}
    )
    return {
        v["id"]: (v["text"], json.loads(v["value"]))
        for v in data["items"][0]["column_values"]
        if v["value"] is not None
    }


async def post_escaped(api: Api, query: str, variables: dict[str, Any]) -> httpx.Response:
    """POST with the variables' JSON ASCII-escaped, as httpx's own encoding will not send a
    lone surrogate (valid JSON as \\ud800)."""
    return await api.client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Authorization": "tok-ada", "Content-Type": "application/json"},
    )


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The first GraphQL error of a refused call: message and extensions together."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("errors"), body
    error = body["errors"][0]
    return {"message": error["message"], **error["extensions"]}
