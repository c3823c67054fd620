"""The one exception root of the server and the single place that maps errors to GraphQL.

Domain code raises an `AppError` subclass; `format_error` turns any exception that reached a
resolver into the error shape monday documents (`extensions.code`, `status_code`,
`error_data`, `request_id`). Anything that is not an `AppError` is logged and masked as
INTERNAL_SERVER_ERROR, so no stack trace ever leaves the server.
"""

from __future__ import annotations

import logging
import re
from typing import Any

logger = logging.getLogger(__name__)


ECHO_LIMIT = 100  # characters of a refused value that an error message repeats
ECHO_MESSAGE_LIMIT = 2_000  # characters of a graphql-core message read for values to clip


def clip(value: object, limit: int = ECHO_LIMIT) -> str:
    """`value` as text, cut to its first `limit` characters and "..." when longer: an error
    message repeats what it refuses without repeating megabytes of it."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def shown(value: object) -> str:
    """`value` clipped and quoted, as `{value!r}` quotes a string in a message."""
    return repr(clip(value))


# In graphql-core's messages a refused value is quoted ('...' or "...", backslash escapes) or
# a bare run (a number, a name): either may be as long as the request that carried it.
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'" + r'|"((?:[^"\\]|\\.)*)"')
_BARE_RUN = re.compile(rf"[^\s'\"]{{{ECHO_LIMIT + 1},}}")


def clip_echoes(message: str) -> str:
    """A graphql-core message with each value it repeats clipped as `clip` does: its syntax and
    validation errors quote the literal, name or variable value they refuse whole."""

    def quoted(match: re.Match[str]) -> str:
        mark = "'" if match.group(1) is not None else '"'
        return mark + clip(match.group(1) if mark == "'" else match.group(2)) + mark

    # cut first, so that quotes never paired (a value of escaped quotes) cost no more than this
    message = clip(message, ECHO_MESSAGE_LIMIT)
    return _BARE_RUN.sub(lambda match: clip(match.group(0)), _QUOTED.sub(quoted, message))


class AppError(Exception):
    """An error the API reports to its caller with a stable code."""

    code: str = "INTERNAL_SERVER_ERROR"
    status_code: int = 200  # monday sends application errors with HTTP 200

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        error_data: dict[str, Any] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        # the refused values it names, as the message names them: clipped
        self.error_data = {
            key: clip(item) if isinstance(item, str) else item
            for key, item in (error_data or {}).items()
        }
        self.extra = extensions or {}

    @property
    def extensions(self) -> dict[str, Any]:
        """What a GraphQL error carries; graphql-core copies it onto errors it wraps (websockets)."""
        return {
            "code": self.code,
            "status_code": self.status_code,
            "error_data": self.error_data,
            **self.extra,
        }


class BadUserInput(AppError):
    code = "BAD_USER_INPUT"


class NotFound(AppError):
    code = "NOT_FOUND"


class Forbidden(AppError):
    code = "FORBIDDEN"


class Unauthorized(AppError):
    code = "USER_UNAUTHORIZED"


class ProjectNotFound(AppError):
    code = "PROJECT_NOT_FOUND"


class RateLimitExceeded(AppError):
    code = "RATE_LIMIT_EXCEEDED"
    status_code = 429

    def __init__(self, message: str, *, retry_after_ms: int) -> None:
        super().__init__(message, extensions={"retryAfterMs": retry_after_ms})


class RateLimited(AppError):
    """Blue's per-user throttle (one export per window); HTTP 200 like Blue's other errors."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_ms: int) -> None:
        super().__init__(message, extensions={"retryAfterMs": retry_after_ms})


class StorageError(AppError):
    """S3 refused or failed a request; wrapped at the storage boundary."""

    code = "STORAGE_ERROR"


class StorageFull(StorageError):
    """S3 refused a write for lack of space (MinIO's 507 XMinioStorageFull). Like a full disk
    (server.diskfull) no fault of the request or the job: try again once there is space.
    HTTP 503 when it reaches a request."""

    status_code = 503

    def __init__(self, reason: str, *, error_data: dict[str, Any] | None = None) -> None:
        super().__init__(
            f"The object store is out of space ({reason}); try again later",
            error_data=error_data,
        )
        self.reason = reason  # what S3 answered to which request


def format_error(exc: BaseException | None, message: str, request_id: str) -> dict[str, Any]:
    """Return the `extensions` and message for one GraphQL error, masking internal ones."""
    if isinstance(exc, AppError):
        return {"message": exc.message, "extensions": {**exc.extensions, "request_id": request_id}}
    if exc is None:
        # graphql-core's own errors (syntax, validation, variables): the message is safe.
        return {
            "message": clip_echoes(message),
            "extensions": {
                "code": "GRAPHQL_VALIDATION_FAILED",
                "status_code": 200,
                "error_data": {},
                "request_id": request_id,
            },
        }
    logger.error(
        "internal error", exc_info=exc, extra={"request_id": request_id, "action": "resolve"}
    )
    return {
        "message": f"Internal server error (request id {request_id})",
        "extensions": {
            "code": "INTERNAL_SERVER_ERROR",
            "status_code": 500,
            "error_data": {},
            "request_id": request_id,
        },
    }
