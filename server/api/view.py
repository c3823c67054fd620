"""The thin ASGI adapter: authentication, API versions and monday's error format around strawberry."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    NextMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    Message as TransportMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    CompleteMessage,
    DataMessage,
    ErrorMessage,
    OperationMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from server import auth, events, faults
from server.api.context import OPERATION_REQUEST_ID, Context
from server.api.documents import parse_ahead, parsed, per_kept_text, syntax_error
from server.errors import AppError, clip, format_error
from server.services import Services


def _operations_run(
    document: DocumentNode, operation_name: str | None
) -> list[OperationDefinitionNode]:
    """The operation that runs: the one named, else every one in the document (one, or
    `operation_problem` refuses the request before it runs)."""
    return [
        definition
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        and (not operation_name or (definition.name and definition.name.value == operation_name))
    ]


MULTIPLE_OPERATIONS = "Must provide operation name if query contains multiple operations."
NO_OPERATION = "Must provide an operation."


def operation_problem(query: str, operation_name: str | None) -> str | None:
    """Why the request names no operation to run, in graphql-core's words; None when it does
    (or when the query does not parse: strawberry reports the syntax error).

    strawberry runs the first operation of a document when no name is given, and graphql-core
    never sees the request without one: every transport asks this before anything runs."""
    document = parsed(query)
    if document is None:
        return None
    operations = _operations_run(document, operation_name)
    if operation_name:
        return None if operations else f'Unknown operation named "{clip(operation_name)}".'
    if not operations:
        return NO_OPERATION
    return MULTIPLE_OPERATIONS if len(operations) > 1 else None


def refusal(query: str, operation_name: str | None) -> GraphQLError | None:
    """Why a websocket operation cannot run before it starts: its syntax error, or the
    operation it names none of. strawberry's streaming path lets a syntax error escape as an
    internal error (graphql-transport-ws sent only `complete`, graphql-ws nothing at all)."""
    error = syntax_error(query)
    if error is not None:
        return error
    problem = operation_problem(query, operation_name)
    return None if problem is None else GraphQLError(problem)


@per_kept_text
def root_fields(query: str, operation_name: str | None = None) -> tuple[str, ...]:
    """The top-level field names of the operation that runs, through its fragments too."""
    document = parsed(query)
    if document is None:
        return ()
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    names: list[str] = []
    seen: set[str] = set()  # fragments already walked (GraphQL refuses cycles, later)

    def walk(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.append(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    seen.add(name)
                    walk(fragments[name].selection_set)

    for operation in _operations_run(document, operation_name):
        walk(operation.selection_set)
    return tuple(names)


def runs_subscription(query: str, operation_name: str | None = None) -> bool:
    """Whether the operation that runs (the one named, else the document's only one) is a
    subscription."""
    document = parsed(query)
    if document is None:
        return False
    operations = _operations_run(document, operation_name)
    return len(operations) == 1 and operations[0].operation == OperationType.SUBSCRIPTION


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


# graphql-core reads variables whole before any resolver runs: 12 MB of them held the event
# loop for 10 s. Operations are small; files go to storage by their pre-signed URLs.
MAX_BODY_BYTES = 5 * 1024 * 1024
# A request this large has the garbage collector run once it is answered: graphql-core's
# execution context is a reference cycle that holds the request's Context, and through it the
# request and its body. The server collects rarely (GC_THRESHOLDS, raised for imports), so
# 200 requests of 5 MB grew it by 2.8 GiB. The collection is a full one, though it costs
# 1-4 ms on a fresh server but 60-100 ms once the query caches are full (512 kept documents,
# about 240,000 objects), 175-440 ms after a request of 150,000 JSON objects; gc.collect(1)
# costs 0.3-1 ms. The young generations are not enough: a collection promotes what is alive
# then, the documents kept for the last few long texts (LONG_TEXTS_KEPT) among them, which
# leave that cache as old garbage: 24 websocket operations of 4 MB left 111 MiB of texts
# behind with gc.collect(1) (34-38 MiB, the documents still kept, with a full collection),
# and with gc.collect(0) 15 requests of 150,000 JSON objects grew the server 345 MiB.
COLLECT_AFTER_BYTES = 1024 * 1024


def _collect_after(size: int) -> None:
    """Run the garbage collector after an HTTP request of a `size`-byte body, or a websocket
    operation of a `size`-character query text, of at least COLLECT_AFTER_BYTES. A websocket
    operation's parsed document is a reference cycle too (the lexer's tokens link both ways)
    holding its text twice over, and a socket's operations make few objects, so the rare
    collections left 20 operations of 5 MB holding 190 MiB after their socket closed."""
    if size >= COLLECT_AFTER_BYTES:
        gc.collect()


# what reading JSON raises besides JSONDecodeError: UnicodeDecodeError (a ValueError) for a
# body that is no UTF-8, RecursionError for arrays or objects nested thousands deep
_UNREADABLE_JSON = (ValueError, RecursionError)


class _BodyTooLarge(Exception):
    pass


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    """The request body, refused past MAX_BODY_BYTES before more of it is read."""
    declared = Headers(scope=scope).get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


# what graphql-core's coercion of variables carries as an error's original: its own error,
# or a scalar's refusal of a value
_COERCION_ERRORS = (type(None), GraphQLError, ValueError, TypeError)


def _error_response(error: AppError, request_id: str) -> JSONResponse:
    body = {"errors": [format_error(error, error.message, request_id)]}
    return JSONResponse(body, status_code=error.status_code)


class MethodGuard:
    """The API behind one path, answering a method the path does not take with a JSON 405
    GraphQL error (Starlette's is plain text)."""

    def __init__(self, app: ASGIApp, methods: tuple[str, ...]) -> None:
        self.app = app
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in self.methods:
            allow = ", ".join(self.methods)
            error = AppError(
                f"{scope['path']} takes {allow}", code="METHOD_NOT_ALLOWED", status_code=405
            )
            response = _error_response(error, str(uuid.uuid4()))
            response.headers["Allow"] = allow
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


REVOKED_CLOSE_CODE = 4403  # graphql-transport-ws's "Forbidden"
MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's payload is at most 125 bytes


def close_reason(reason: str) -> str:
    """`reason` cut to fit a close frame (a longer one fails the close: the socket dropped
    without a close code), marked with "..." where it was cut."""
    encoded = reason.encode()
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "..."


class _WebSocketAdapter(ASGIWebSocketAdapter):
    async def close(self, code: int, reason: str) -> None:
        # strawberry closes with a syntax error's or an unknown operation name's message,
        # which may quote the client's text at any length
        await super().close(code, close_reason(reason))


@dataclass(frozen=True)
class _OpenSocket:
    socket: WebSocket
    user_id: int
    headers: dict[str, str]


def _operation_problem(message: object, start_type: str) -> str | None:
    """What is wrong with a websocket message that strawberry would fail on with an exception
    (dropping the socket without a close frame, or the operation without an answer)."""
    if not isinstance(message, dict):
        return "A message must be a JSON object"
    if message.get("type") != start_type:
        return None
    payload = message.get("payload")
    if not isinstance(message.get("id"), str):
        return "The operation's id must be a string"
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return 'The payload must be an object with a "query" string'
    if not isinstance(payload.get("variables") or {}, dict):
        return "The operation's variables must be an object"
    if not isinstance(payload.get("operationName") or "", str):
        return "The operation's operationName must be a string"
    return None


async def _take_fault(
    services: Services, query: str, operation_name: str | None
) -> AppError | None:
    """The error of a fault queued through the admin API for one of the operation's root
    fields, after the delay of any SLOW one queued before it."""
    for name in root_fields(query, operation_name):
        fault = await faults.take(services.pool, name)
        if fault is None:
            continue
        if fault.error == faults.SLOW:
            await faults.delay(fault)
            continue
        return faults.graphql_error(fault, name)
    return None


async def _fault_result(
    context: Context, query: str, operation_name: str | None
) -> dict[str, Any] | None:
    """The result a websocket operation gets instead of running, as an HTTP request's body:
    an injected fault's error, or the masked internal error of looking for one."""
    request_id = context.operation_request_id
    if auth.version_gated_fields(query, context.api_version):
        return None  # refused by the API version before a fault could fire, as over HTTP
    try:
        error: BaseException | None = await _take_fault(context.services, query, operation_name)
    except Exception as exc:  # logged and masked by format_error, as a resolver's would be
        error = exc
    if error is None:
        return None
    return {"data": None, "errors": [format_error(error, str(error), request_id)]}


def _start_operation() -> None:
    """Give the websocket operation running in this task a request id of its own."""
    OPERATION_REQUEST_ID.set(str(uuid.uuid4()))


def _with_request_ids(message: dict[str, Any]) -> dict[str, Any]:
    """The message with a request id (and the other extensions HTTP answers carry) on each of
    its GraphQL errors, as monday's errors have."""
    request_id = OPERATION_REQUEST_ID.get() or str(uuid.uuid4())  # outside an operation

    def stamped(error: object) -> object:
        if not isinstance(error, dict):
            return error
        defaults = format_error(None, str(error.get("message", "")), request_id)
        if not error.get("extensions"):
            # graphql-core's own errors (validation, variables): their message as over HTTP
            return {**error, **defaults}
        return {**error, "extensions": {**defaults["extensions"], **error["extensions"]}}

    payload = message.get("payload")
    if message.get("type") == "error" and isinstance(payload, list):
        return {**message, "payload": [stamped(error) for error in payload]}
    if message.get("type") == "error":
        return {**message, "payload": stamped(payload)}  # graphql-ws sends one error
    if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
        errors = [stamped(error) for error in payload["errors"]]
        return {**message, "payload": {**payload, "errors": errors}}
    return message


class _ServerFailure(Exception):
    """Authenticating a websocket failed on the server's side (the database lost): not the
    client's credentials, so not the refusal strawberry would answer (4403 Forbidden)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["message"])
        self.payload = payload


INTERNAL_CLOSE_CODE = 4500  # graphql-transport-ws's internal server error


class _LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except _ServerFailure as exc:
            # as strawberry ends a refused connection, with 1011: the server's error
            await self.send_message({"type": "connection_error", "payload": exc.payload})
            await self.websocket.close(code=1011, reason="")

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        _start_operation()
        complete: CompleteMessage = {"type": "complete", "id": operation_id}
        try:
            await parse_ahead(query)
            refused = refusal(query, operation_name or None)
            if refused is not None:
                # as strawberry answers an unknown operation name on graphql-ws
                error: ErrorMessage = {
                    "type": "error",
                    "id": operation_id,
                    "payload": cast(Any, refused.formatted),
                }
                await self.send_message(error)
                return
            result = None
            # graphql-ws runs subscriptions only (strawberry refuses the rest): no fault for those
            if runs_subscription(query, operation_name):
                result = await _fault_result(self.context, query, operation_name)
            if result is None:
                # "" means no name, as over HTTP (strawberry looks for an operation named "")
                await super().handle_async_results(
                    operation_id, query, operation_name or None, variables
                )
                return
            data: DataMessage = {"type": "data", "id": operation_id, "payload": cast(Any, result)}
            await self.send_message(data)
            await self.send_message(complete)
        except asyncio.CancelledError:
            # stopped during a SLOW fault's delay: answered as strawberry answers a stop
            await self.send_message(complete)
        finally:
            self.tasks.pop(operation_id, None)
            _collect_after(len(query))

    async def send_message(self, message: OperationMessage) -> None:
        await super().send_message(cast(OperationMessage, _with_request_ids(cast(Any, message))))

    async def handle_message(self, message: OperationMessage) -> None:
        problem = _operation_problem(message, "start")
        if problem is None:
            await super().handle_message(message)
            return
        # any JSON the client sent, whatever strawberry's type says
        raw: object = message
        operation_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(operation_id, str):
            # graphql-ws has no close code for it: the operation gets an error, the socket
            # lives on (a message without an id is ignored, as unparsable ones are)
            error: ErrorMessage = {
                "type": "error",
                "id": operation_id,
                "payload": {"message": problem},
            }
            await self.send_message(error)


class _TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def run_operation(self, operation: Operation[Context, None]) -> None:
        try:
            await self._run_operation(operation)
        finally:
            _collect_after(len(operation.query))

    async def _run_operation(self, operation: Operation[Context, None]) -> None:
        _start_operation()
        query, name = operation.query, operation.operation_name or None
        await parse_ahead(query)
        refused = refusal(query, name)
        if refused is not None:
            # closed as strawberry closes the socket for a syntax error or an unknown name
            await self.websocket.close(code=4400, reason=refused.message)
            self.operations.pop(operation.id, None)
            return
        result = await _fault_result(self.context, query, name)
        if result is None:
            # "" means no name, as over HTTP (strawberry looks for an operation named "")
            operation.operation_name = name
            await super().run_operation(operation)
            return
        # the result an HTTP request gets, then the end of the operation, as a query's
        answer: NextMessage = {"id": operation.id, "type": "next", "payload": cast(Any, result)}
        await operation.send_operation_message(answer)
        await operation.send_operation_message({"id": operation.id, "type": "complete"})

    async def send_message(self, message: TransportMessage) -> None:
        await super().send_message(cast(TransportMessage, _with_request_ids(cast(Any, message))))

    async def handle_message(self, message: TransportMessage) -> None:
        problem = _operation_problem(message, "subscribe")
        if problem is None:
            await super().handle_message(message)
        else:
            await self.handle_invalid_message(problem)  # closes with 4400

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # graphql-transport-ws allows `"payload": null`, which strawberry refuses with 4400:
        # it is no payload, so the connection authenticates by its headers alone
        if message.get("payload", {}) is None:
            message = {"type": message["type"], "payload": {}}
        try:
            await super().handle_connection_init(message)
        except _ServerFailure as exc:
            await self.websocket.close(
                code=INTERNAL_CLOSE_CODE, reason=close_reason(str(exc.payload["message"]))
            )


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = _TransportWSHandler
    graphql_ws_handler_class = _LegacyWSHandler
    websocket_adapter_class = _WebSocketAdapter

    def __init__(self, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services
        # the acknowledged websockets of this process: id(scope) -> the socket, its user and
        # the credentials it authenticated with
        self.sockets: dict[int, _OpenSocket] = {}
        self.closing: set[asyncio.Task[None]] = set()
        services.events.on_notice(events.TOKEN_REVOKED_CHANNEL, self._close_sockets_of)
        services.events.on_reconnect(self._close_revoked_sockets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            try:
                await super().__call__(scope, receive, send)
            finally:
                self.sockets.pop(id(scope), None)
            return
        if scope["type"] == "http":
            try:
                body = await _read_body(scope, receive)
            except _BodyTooLarge:
                error = AppError(
                    f"Request body too large: at most {MAX_BODY_BYTES} bytes",
                    code="PAYLOAD_TOO_LARGE", status_code=413,
                )  # fmt: skip
                await _error_response(error, str(uuid.uuid4()))(scope, receive, send)
                return
            size = len(body)
            try:
                await self._answer_http(scope, _replay(body), send)
            finally:
                del body  # not held through the collection
                _collect_after(size)
            return
        await super().__call__(scope, receive, send)

    async def _answer_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._guarded_gate(request)
        if response is not None:
            await response(scope, receive, send)
            return
        # the gate read the body; hand strawberry a receive that replays it
        request = Request(scope, _replay(await request.body()))
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # strawberry refuses a malformed request in plain text; clients parse JSON
            error = AppError(exc.reason, code="BAD_REQUEST", status_code=exc.status_code)
            response = _error_response(error, request.state.request_id)
        await response(scope, receive, send)

    async def _guarded_gate(self, request: Request) -> Response | None:
        """`_gate_http`, with an unexpected error (the database lost while it authenticates
        or takes a fault) logged and answered as INTERNAL_SERVER_ERROR with the request's id,
        as a resolver's is: uncaught, it was a plain-text 500 and an ASGI traceback."""
        try:
            return await self._gate_http(request)
        except Exception as exc:
            request_id = getattr(request.state, "request_id", None) or str(uuid.uuid4())
            body = {"data": None, "errors": [format_error(exc, str(exc), request_id)]}
            return JSONResponse(body, status_code=500)

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
        if request.method == "POST" and not await self._is_json_object(request):
            error = AppError(
                "The request body must be a JSON object such as "
                '{"query": "...", "variables": {...}, "operationName": "..."}',
                code="BAD_REQUEST",
                status_code=400,
            )
            return _error_response(error, request_id)
        query, operation_name = await self._operation(request)
        await parse_ahead(query)
        invalid = syntax_error(query) if query else None
        if invalid is not None:
            # strawberry's answer, without the parse it would run again on the event loop
            result = ExecutionResult(data=None, errors=[invalid])
            return JSONResponse(await self.process_result(request, result))
        problem = operation_problem(query, operation_name) if query else None
        if problem is not None:
            # a request error, as strawberry answers an unknown operation name
            error = AppError(problem, code="BAD_REQUEST", status_code=400)
            return _error_response(error, request_id)
        gated = auth.version_gated_fields(query, request.state.api_version) if query else []
        if gated:
            error = auth.VersionGatedField(gated[0], request.state.api_version)
            return _error_response(error, request_id)
        if query and runs_subscription(query, operation_name):
            # strawberry ran it as a query, which failed as an internal error
            error = AppError(
                "Subscriptions are served over a websocket on /graphql (graphql-transport-ws "
                "or graphql-ws), not over HTTP",
                code="BAD_REQUEST",
                status_code=400,
            )
            return _error_response(error, request_id)
        return await self._injected_fault(query, operation_name, request_id) if query else None

    async def _injected_fault(
        self, query: str, operation_name: str | None, request_id: str
    ) -> Response | None:
        """A fault queued through the admin API for one of the operation's root fields."""
        error = await _take_fault(self.services, query, operation_name)
        if error is None:
            return None
        body = {"data": None, "errors": [format_error(error, error.message, request_id)]}
        # transport-level statuses as monday sends them; application errors ride on 200
        http_status = error.status_code if error.status_code in (429, 500) else 200
        return JSONResponse(body, status_code=http_status)

    @staticmethod
    async def _is_json_object(request: Request) -> bool:
        """False for a JSON body that is no object (a string, a number, null), which strawberry
        would fail on with a 500; a body that is no JSON at all strawberry refuses itself."""
        try:
            body = await request.json()
        except _UNREADABLE_JSON:
            return True
        # a list is a batch, which strawberry refuses in its own words
        return isinstance(body, dict | list)

    @staticmethod
    async def _operation(request: Request) -> tuple[str, str | None]:
        """The query text and operation name of the request ("" when it has none)."""
        if request.method == "GET":
            params = request.query_params
            return params.get("query", ""), params.get("operationName") or None
        try:
            body = await request.json()
        except _UNREADABLE_JSON:
            return "", None
        if not isinstance(body, dict):
            return "", None  # batches are refused
        query, name = body.get("query"), body.get("operationName")
        # a query that is no string is strawberry's to refuse (HTTP 400)
        return query if isinstance(query, str) else "", name if isinstance(
            name, str
        ) and name else None

    def decode_json(self, data: str | bytes) -> object:
        # strawberry turns only a JSONDecodeError into a 400 (HTTP) or a 4400 close (a socket):
        # JSON that is no UTF-8 or nests past the recursion limit failed the request with a
        # 500 or dropped the socket without a close frame
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except _UNREADABLE_JSON as exc:
            raise json.JSONDecodeError(f"unreadable JSON ({type(exc).__name__})", "", 0) from exc

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        # some clients send "" for "no operation name": GraphQL would look for an operation
        # named "" and refuse the request
        if isinstance(data, GraphQLRequestData) and data.operation_name == "":
            data.operation_name = None
        return data

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
        params = context.connection_params or {}
        # the payload's values win over the upgrade request's; Apollo's and urql's clients put
        # them in a `headers` object of the payload
        for given in (params.get("headers"), params):
            if isinstance(given, dict):
                headers.update({k.lower(): v for k, v in given.items() if isinstance(v, str)})
        try:
            context.api_version = auth.parse_api_version(headers.get("api-version"))
        except auth.InvalidApiVersion as exc:
            # the error an HTTP request gets for it
            error = format_error(exc, exc.message, context.request_id)
            raise ConnectionRejectionError(error) from exc
        try:
            user = await auth.authenticate(self.services, headers)
        except Exception as exc:
            # logged with the request id, masked: the socket ends as a server error (it ended
            # without a close code, uvicorn logging an ASGI traceback)
            raise _ServerFailure(format_error(exc, str(exc), context.request_id)) from exc
        if user is None:
            raise ConnectionRejectionError({"message": "Not Authenticated"})
        context.user_or_none = user
        if isinstance(context.request, WebSocket):
            self.sockets[id(context.request.scope)] = _OpenSocket(
                socket=context.request, user_id=user.id, headers=headers
            )
        return await super().on_ws_connect(context)

    def _close_sockets_of(self, user_id: str) -> None:
        """A token of this user was revoked (by any process): close the user's sockets."""
        for key, open_socket in list(self.sockets.items()):
            if str(open_socket.user_id) == user_id:
                self._close_later(key, open_socket)

    async def _close_revoked_sockets(self) -> None:
        """The revocation notices sent while this process's listener was away are lost: close
        the sockets whose credentials no longer authenticate."""
        for key, open_socket in list(self.sockets.items()):
            user = await auth.authenticate(self.services, open_socket.headers)
            if user is None or user.id != open_socket.user_id:
                self._close_later(key, open_socket)

    def _close_later(self, key: int, open_socket: _OpenSocket) -> None:
        if self.sockets.pop(key, None) is not None:
            task = asyncio.create_task(self._close(open_socket.socket))
            self.closing.add(task)
            task.add_done_callback(self.closing.discard)

    @staticmethod
    async def _close(socket: WebSocket) -> None:
        # the client may be gone already, or strawberry may have closed it meanwhile
        with contextlib.suppress(RuntimeError, OSError):
            await socket.close(code=REVOKED_CLOSE_CODE, reason="Token revoked")

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
        original = error.original_error
        if error.path is None and isinstance(original, _COERCION_ERRORS):
            # raised before any resolver ran (variable coercion): the caller's mistake; an
            # extension's failure there (the database lost as the complexity is charged)
            # stays internal, its message with it
            original = None
        formatted = format_error(original, error.message, request_id)
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
