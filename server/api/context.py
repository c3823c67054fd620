"""The per-request context every resolver receives."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from server.errors import AppError
from server.services import Services
from server.store.records import User

# the request id of the websocket operation that runs in this task: each operation sent over a
# socket is a request of its own, as each HTTP request is (the view sets it per operation)
OPERATION_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "operation_request_id", default=None
)


class NotAuthenticated(AppError):
    code = "UNAUTHENTICATED"
    status_code = 401


@dataclass(kw_only=True)
class Context:
    services: Services
    request: Request | WebSocket
    response: Response | WebSocket
    request_id: str  # a websocket's own; its operations each have one (operation_request_id)
    api_version: str
    user_or_none: User | None = None
    # a websocket's connection_init payload; the legacy graphql-ws handler sets None for none
    connection_params: dict[str, Any] | None = field(default_factory=dict)
    # the request's data loaders by name, made on first use (monday_v2_types)
    loaders: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> User:
        if self.user_or_none is None:
            raise NotAuthenticated("Not Authenticated")
        return self.user_or_none

    @property
    def operation_request_id(self) -> str:
        """The request id errors of the running operation carry."""
        return OPERATION_REQUEST_ID.get() or self.request_id

    def set_status(self, status_code: int) -> None:
        if isinstance(self.response, Response):
            self.response.status_code = status_code


Info = StrawberryInfo[Context, None]
