"""Internal errors reach websocket clients with the same mask as HTTP answers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from graphql import GraphQLError
from starlette.websockets import WebSocket

from server.api.context import Context
from server.api.schema import schema
from server.errors import NotFound


async def _receive() -> Any:
    return {"type": "websocket.disconnect"}


async def _send(message: Any) -> None:
    return None


def _context(request: Any) -> Any:
    context = Context(
        services=cast(Any, None), request=request, response=request,
        request_id="rid-1", api_version="2026-07",
    )  # fmt: skip
    return SimpleNamespace(context=context, query=None, variables=None, operation_name=None)


def _error(original: Exception, path: list[str] | None = None) -> GraphQLError:
    return GraphQLError(str(original), path=path, original_error=original)


def test_an_internal_error_on_a_websocket_is_masked_with_its_code() -> None:
    socket = WebSocket({"type": "websocket", "path": "/graphql", "headers": []}, _receive, _send)
    internal = _error(RuntimeError('relation "secret_table" does not exist'), ["job_status"])
    answer = _error(NotFound("Job x not found"), ["job_status"])
    caller = GraphQLError("Variable '$id' of required type 'ID!' was not provided.")

    schema.process_errors([internal, answer, caller], cast(Any, _context(socket)))

    assert internal.formatted["message"] == "Internal server error (request id rid-1)"
    assert internal.formatted["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret_table" not in str(internal.formatted)
    assert answer.formatted["message"] == "Job x not found"
    assert answer.formatted["extensions"]["code"] == "NOT_FOUND"
    assert caller.formatted["message"].startswith("Variable '$id'")


def test_http_errors_are_left_to_the_view_which_reads_the_original() -> None:
    internal = _error(RuntimeError("boom"), ["me"])
    schema.process_errors([internal], cast(Any, _context(SimpleNamespace())))
    assert internal.message == "boom" and isinstance(internal.original_error, RuntimeError)
