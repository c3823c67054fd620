"""The admin API for tests that use the server as a local mock (CONTRACT §5)."""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from server import clock, events, faults, fixtures, sql
from server.api.schema import schema
from server.errors import AppError, StorageError
from server.services import Services
from server.store.exports import ExportStore, OutboxMessage

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]

# the GraphQL operations a fault may be queued for
ROOT_FIELDS = frozenset(
    name
    for root in (
        schema._schema.query_type,
        schema._schema.mutation_type,
        schema._schema.subscription_type,
    )
    if root is not None
    for name in root.fields
)


def _json(body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, default=str),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def admin_routes(services: Services) -> list[Route]:
    """The admin API's routes; each answers 404 to a caller without the admin token."""
    token = services.settings.admin_token
    calls = _AdminCalls(services)
    paths: dict[str, dict[str, Handler]] = {
        "/__admin/faults": {"POST": calls.add_fault, "DELETE": calls.clear_faults},
        "/__admin/reset": {"POST": calls.reset},
        "/__admin/fixture": {"POST": calls.load_fixture},
        "/__admin/clock": {"POST": calls.move_clock},
        "/__admin/revoke": {"POST": calls.revoke},
        "/__admin/jobs/{job_id}": {"GET": calls.job},
        "/__admin/outbox": {"GET": calls.outbox},
    }
    # Every method reaches the endpoint (which checks the token first): a route limited to
    # its methods would answer another one with 405 before it. The last route takes any
    # other admin path, which Starlette would otherwise redirect (a trailing slash) with 307.
    return [
        *(Route(path, _AnyMethod(_guarded(token, handlers))) for path, handlers in paths.items()),
        Route("/__admin/{rest:path}", _AnyMethod(_guarded(token, {}))),
    ]


def _guarded(token: str | None, handlers: Mapping[str, Handler]) -> Handler:
    """One path's endpoint: its handler by method. Without the token every method of
    every admin path is a 404, so nothing tells a caller that the admin API exists."""

    async def endpoint(request: Request) -> Response:
        if not _allowed(token, request):
            # Starlette's own answer for a path that does not exist, byte for byte
            return PlainTextResponse("Not Found", status_code=404)
        handler = handlers.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            return _refuse_method(request, handlers)
        return await _call(handler, request)

    return endpoint


def _allowed(token: str | None, request: Request) -> bool:
    given = request.headers.get("x-admin-token", "")
    return token is not None and hmac.compare_digest(given.encode(), token.encode())


def _refuse_method(request: Request, handlers: Mapping[str, Handler]) -> Response:
    if not handlers:  # the catch-all: no such admin path
        return _json({"error": "no such admin call"}, status_code=404)
    allow = ", ".join(sorted(handlers))
    return _json(
        {"error": f"{request.url.path} takes {allow}", "code": "METHOD_NOT_ALLOWED"},
        status_code=405,
        headers={"Allow": allow},
    )


async def _call(handler: Handler, request: Request) -> Response:
    try:
        return await handler(request)
    except AppError as exc:
        # the caller's mistake unless the error says it is the server's
        status = exc.status_code if exc.status_code >= 500 else 400
        return _json({"error": exc.message, "code": exc.code}, status_code=status)
    except Exception:
        # the database lost mid-call, say: logged with an id, answered in the API's shape
        # (uncaught, it was a plain-text 500), so a client may simply ask again
        request_id = str(uuid.uuid4())
        logger.exception("admin call failed", extra={"request_id": request_id, "action": "admin"})
        message = f"Internal server error (request id {request_id})"
        return _json({"error": message, "code": "INTERNAL_SERVER_ERROR"}, status_code=500)


async def _read_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (an empty body is {})."""
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise AppError(f"body is not JSON: {exc}", code="BAD_USER_INPUT") from exc
    if not isinstance(data, dict):
        raise AppError("body must be a JSON object", code="BAD_USER_INPUT")
    return data


class _AdminCalls:
    """The admin calls' handlers, over the services they act on."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def reset(self, request: Request) -> Response:
        await self._reset_data()
        await clock.reset(self.services.clock, self.services.pool)
        return _json({"ok": True})

    async def _reset_data(self) -> None:
        path = self.services.settings.fixture
        try:
            await fixtures.reset(self.services.pool, path, self.services.storage.delete_all)
        except fixtures.InvalidFixture as exc:
            # the start fixture was changed since the server started: the server's fault
            raise AppError(
                f"start fixture {path}: {exc.message}; nothing was reset",
                code="INVALID_START_FIXTURE",
                status_code=500,
            ) from exc
        except StorageError as exc:
            raise AppError(
                f"{exc.message}: the data was left as it was, some stored files may be gone",
                code=exc.code,
                status_code=503,
            ) from exc

    async def load_fixture(self, request: Request) -> Response:
        await fixtures.load_fixture(self.services.pool, await _read_body(request))
        return _json({"ok": True})

    async def move_clock(self, request: Request) -> Response:
        data = await _read_body(request)
        seconds = data.get("advance_seconds")
        server_clock = self.services.clock
        if data.get("reset") is True:
            await clock.reset(server_clock, self.services.pool)
        # a JSON true is no number of seconds, though Python counts bool as an int
        elif isinstance(seconds, int | float) and not isinstance(seconds, bool):
            await clock.advance(server_clock, self.services.pool, float(seconds))
        else:
            raise AppError(
                'expected {"advance_seconds": N} or {"reset": true}', code="BAD_USER_INPUT"
            )
        return _json({"offset_seconds": server_clock.offset_seconds, "now": server_clock.now()})

    async def revoke(self, request: Request) -> Response:
        token = (await _read_body(request)).get("token")
        if not isinstance(token, str) or not token:
            raise AppError('expected {"token": "..."}', code="BAD_USER_INPUT")
        accounts = self.services.accounts
        user_ids = await accounts.revoke_token(token, events.TOKEN_REVOKED_CHANNEL)
        if not user_ids:
            return _json({"error": "no user has this token"}, status_code=404)
        return _json({"revoked": True, "user_ids": user_ids})

    async def job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        # text PostgreSQL cannot take (a NUL, %00 in the path) names no job
        record = await self.services.jobs.raw_job(job_id) if sql.storable(job_id) else None
        if record is None:
            return _json({"error": "job not found"}, status_code=404)
        return _json(record)

    async def outbox(self, request: Request) -> Response:
        messages = await ExportStore(self.services.pool).outbox()
        return _json([_message_json(m) for m in messages])

    async def add_fault(self, request: Request) -> Response:
        data = await _read_body(request)
        if data.get("operation") == faults.S3_WRITE and self.services.settings.s3_endpoint_url:
            # only the embedded S3 asks the server before each write; an outside one (MinIO)
            # runs out of space for real
            raise AppError(
                "the s3_write fault needs the embedded S3; S3_ENDPOINT_URL names another",
                code="BAD_USER_INPUT",
            )
        await faults.add(self.services.pool, data, ROOT_FIELDS)
        return _json({"ok": True})

    async def clear_faults(self, request: Request) -> Response:
        await faults.clear(self.services.pool)
        return _json({"ok": True})


def _message_json(message: OutboxMessage) -> dict[str, Any]:
    return {
        "to": message.to,
        "subject": message.subject,
        "body": message.body,
        "links": message.links,
        "sent_at": message.sent_at,
    }


class _AnyMethod:
    """An endpoint as an ASGI app, so that its route takes every method (Starlette limits a
    function endpoint's route to GET unless given its methods)."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)
