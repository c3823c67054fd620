"""The admin API for tests that use the server as a local mock (CONTRACT §5)."""

from __future__ import annotations

import hmac
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
from server.store.exports import ExportStore

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
    token = services.settings.admin_token

    def allowed(request: Request) -> bool:
        given = request.headers.get("x-admin-token", "")
        return token is not None and hmac.compare_digest(given.encode(), token.encode())

    def guarded(handlers: Mapping[str, Handler]) -> Handler:
        """One path's endpoint: its handler by method. Without the token every method of
        every admin path is a 404, so nothing tells a caller that the admin API exists."""

        async def endpoint(request: Request) -> Response:
            if not allowed(request):
                # Starlette's own answer for a path that does not exist, byte for byte
                return PlainTextResponse("Not Found", status_code=404)
            method = "GET" if request.method == "HEAD" else request.method
            handler = handlers.get(method)
            if handler is None:
                if not handlers:  # the catch-all: no such admin path
                    return _json({"error": "no such admin call"}, status_code=404)
                allow = ", ".join(sorted(handlers))
                return _json(
                    {"error": f"{request.url.path} takes {allow}", "code": "METHOD_NOT_ALLOWED"},
                    status_code=405,
                    headers={"Allow": allow},
                )
            try:
                result: Response = await handler(request)
            except AppError as exc:
                # the caller's mistake unless the error says it is the server's
                status = exc.status_code if exc.status_code >= 500 else 400
                return _json({"error": exc.message, "code": exc.code}, status_code=status)
            return result

        return endpoint

    async def body(request: Request) -> dict[str, Any]:
        """The request's JSON object (an empty body is {})."""
        raw = await request.body()
        try:
            data = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise AppError(f"body is not JSON: {exc}", code="BAD_USER_INPUT") from exc
        if not isinstance(data, dict):
            raise AppError("body must be a JSON object", code="BAD_USER_INPUT")
        return data

    async def reset(request: Request) -> Response:
        path = services.settings.fixture
        try:
            await fixtures.reset(services.pool, path, services.storage.delete_all)
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
        await clock.reset(services.clock, services.pool)
        return _json({"ok": True})

    async def load_fixture(request: Request) -> Response:
        await fixtures.load_fixture(services.pool, await body(request))
        return _json({"ok": True})

    async def move_clock(request: Request) -> Response:
        data = await body(request)
        seconds = data.get("advance_seconds")
        if data.get("reset") is True:
            await clock.reset(services.clock, services.pool)
        # a JSON true is no number of seconds, though Python counts bool as an int
        elif isinstance(seconds, int | float) and not isinstance(seconds, bool):
            await clock.advance(services.clock, services.pool, float(seconds))
        else:
            raise AppError(
                'expected {"advance_seconds": N} or {"reset": true}', code="BAD_USER_INPUT"
            )
        return _json({"offset_seconds": services.clock.offset_seconds, "now": services.clock.now()})

    async def revoke(request: Request) -> Response:
        token = (await body(request)).get("token")
        if not isinstance(token, str) or not token:
            raise AppError('expected {"token": "..."}', code="BAD_USER_INPUT")
        user_ids = await services.accounts.revoke_token(token, events.TOKEN_REVOKED_CHANNEL)
        if not user_ids:
            return _json({"error": "no user has this token"}, status_code=404)
        return _json({"revoked": True, "user_ids": user_ids})

    async def job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        # text PostgreSQL cannot take (a NUL, %00 in the path) names no job
        record = await services.jobs.raw_job(job_id) if sql.storable(job_id) else None
        if record is None:
            return _json({"error": "job not found"}, status_code=404)
        return _json(record)

    async def outbox(request: Request) -> Response:
        messages = await ExportStore(services.pool).outbox()
        return _json(
            [
                {
                    "to": m.to,
                    "subject": m.subject,
                    "body": m.body,
                    "links": m.links,
                    "sent_at": m.sent_at,
                }
                for m in messages
            ]
        )

    async def add_fault(request: Request) -> Response:
        await faults.add(services.pool, await body(request), ROOT_FIELDS)
        return _json({"ok": True})

    async def clear_faults(request: Request) -> Response:
        await faults.clear(services.pool)
        return _json({"ok": True})

    calls: dict[str, dict[str, Handler]] = {
        "/__admin/faults": {"POST": add_fault, "DELETE": clear_faults},
        "/__admin/reset": {"POST": reset},
        "/__admin/fixture": {"POST": load_fixture},
        "/__admin/clock": {"POST": move_clock},
        "/__admin/revoke": {"POST": revoke},
        "/__admin/jobs/{job_id}": {"GET": job},
        "/__admin/outbox": {"GET": outbox},
    }
    # Every method reaches the endpoint (which checks the token first): a route limited to
    # its methods would answer another one with 405 before it. The last route takes any
    # other admin path, which Starlette would otherwise redirect (a trailing slash) with 307.
    return [
        *(Route(path, _AnyMethod(guarded(handlers))) for path, handlers in calls.items()),
        Route("/__admin/{rest:path}", _AnyMethod(guarded({}))),
    ]


class _AnyMethod:
    """An endpoint as an ASGI app, so that its route takes every method (Starlette limits a
    function endpoint's route to GET unless given its methods)."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)
