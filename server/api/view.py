"""The thin ASGI adapter: authentication, API versions and monday's error format around strawberry."""

from __future__ import annotations

import uuid
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, parse
from graphql.language import FieldNode, visit
from graphql.language.visitor import Visitor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from server import auth
from server.api.context import Context
from server.errors import AppError, format_error
from server.services import Services


class _FieldNames(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.names.add(node.name.value)


def version_gated_fields(query: str, version: str) -> list[str]:
    """Fields the query names that do not exist yet in the requested API version."""
    if version >= auth.BULK_IMPORT_SINCE:
        return []
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return []  # strawberry reports the syntax error itself
    collector = _FieldNames()
    visit(document, collector)
    return sorted(collector.names & auth.BULK_IMPORT_FIELDS)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _error_response(error: AppError, request_id: str) -> JSONResponse:
    body = {"errors": [format_error(error, error.message, request_id)]}
    return JSONResponse(body, status_code=error.status_code)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            response = await self._gate_http(request)
            if response is not None:
                await response(scope, receive, send)
                return
            # the gate read the body; hand strawberry a receive that replays it
            receive = _replay(await request.body())
        await super().__call__(scope, receive, send)

    async def _gate_http(self, request: Request) -> Response | None:
        """Answer requests that must not reach GraphQL: no token, bad version, gated fields."""
        request_id = str(uuid.uuid4())
        request.state.request_id = request_id
        if request.method == "GET" and "query" not in request.query_params:
            return None  # GraphiQL for browsers
        try:
            request.state.api_version = auth.parse_api_version(request.headers.get("api-version"))
        except AppError as exc:
            return _error_response(exc, request_id)
        user = await auth.authenticate(self.services, request.headers)
        if user is None:
            return JSONResponse(auth.UNAUTHENTICATED_BODY, status_code=401)
        request.state.user = user
        query = await self._query_text(request)
        gated = version_gated_fields(query, request.state.api_version) if query else []
        if gated:
            message = (
                f'Cannot query field "{gated[0]}": it exists from API version '
                f"{auth.BULK_IMPORT_SINCE} on (requested {request.state.api_version})."
            )
            error = AppError(message, code="GRAPHQL_VALIDATION_FAILED")
            return _error_response(error, request_id)
        return None

    @staticmethod
    async def _query_text(request: Request) -> str:
        if request.method == "GET":
            return request.query_params.get("query", "")
        try:
            body = await request.json()
        except ValueError:
            return ""
        if isinstance(body, dict):
            return str(body.get("query") or "")
        if isinstance(body, list):
            return "\n".join(str(b.get("query") or "") for b in body if isinstance(b, dict))
        return ""

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.state
        return Context(
            services=self.services,
            request=request,
            response=response,
            request_id=getattr(state, "request_id", None) or str(uuid.uuid4()),
            api_version=getattr(state, "api_version", auth.CURRENT_API_VERSION),
            user_or_none=getattr(state, "user", None),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        headers: dict[str, str] = dict(context.request.headers)
        headers.update({k: v for k, v in context.connection_params.items() if isinstance(v, str)})
        user = await auth.authenticate(self.services, headers)
        if user is None:
            raise ConnectionRejectionError({"message": "Not Authenticated"})
        context.user_or_none = user
        return await super().on_ws_connect(context)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        request_id = getattr(request.state, "request_id", None) or str(uuid.uuid4())
        data: GraphQLHTTPResponse = {"data": result.data}
        if result.errors:
            errors = [self._format(error, request_id) for error in result.errors]
            data["errors"] = list(errors)
            statuses = {e["extensions"]["status_code"] for e in errors}
            if 429 in statuses and hasattr(request.state, "sub_response"):
                request.state.sub_response.status_code = 429
        if result.extensions:
            data["extensions"] = result.extensions
        return data

    @staticmethod
    def _format(error: GraphQLError, request_id: str) -> dict[str, Any]:
        formatted = format_error(error.original_error, error.message, request_id)
        if error.locations:
            formatted["locations"] = [
                {"line": loc.line, "column": loc.column} for loc in error.locations
            ]
        if error.path:
            formatted["path"] = list(error.path)
        return formatted

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        # kept on the request so process_result can turn a rate-limit error into HTTP 429
        sub_response = await super().get_sub_response(request)
        request.state.sub_response = sub_response
        return sub_response
