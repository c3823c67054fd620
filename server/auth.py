"""Who is calling: tokens (monday style) or Blue's token id/secret headers, and API versions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql.language import FieldNode, visit
from graphql.language.visitor import Visitor

from server.api.documents import parsed
from server.errors import AppError, shown
from server.services import Services
from server.store.records import User

CURRENT_API_VERSION = "2026-07"
# the first version that has ingest_items, backfill_items and fetch_job_status
BULK_IMPORT_SINCE = "2026-07"
BULK_IMPORT_FIELDS = frozenset({"ingest_items", "backfill_items", "fetch_job_status"})
_VERSION = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

UNAUTHENTICATED_BODY = {
    "errors": [{"message": "Not Authenticated", "extensions": {"code": "UNAUTHENTICATED"}}]
}


class InvalidApiVersion(AppError):
    code = "INVALID_API_VERSION"
    status_code = 400


class VersionGatedField(AppError):
    """A field the requested API version does not have yet (a validation error, as GraphQL
    reports a field the schema lacks)."""

    code = "GRAPHQL_VALIDATION_FAILED"

    def __init__(self, field: str, version: str) -> None:
        super().__init__(
            f'Cannot query field "{field}": it exists from API version '
            f"{BULK_IMPORT_SINCE} on (requested {version})."
        )


class _FieldNames(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.names.add(node.name.value)


def version_gated_fields(query: str, version: str) -> list[str]:
    """Fields the query names that do not exist yet in the requested API version."""
    if version >= BULK_IMPORT_SINCE:
        return []
    document = parsed(query)
    if document is None:
        return []  # strawberry reports the syntax error itself
    collector = _FieldNames()
    visit(document, collector)
    return sorted(collector.names & BULK_IMPORT_FIELDS)


def parse_api_version(header: str | None) -> str:
    """The requested API version; a missing header means the current one."""
    if header is None or not header.strip():
        return CURRENT_API_VERSION
    version = header.strip()
    if not _VERSION.match(version):
        raise InvalidApiVersion(
            f"Invalid API version {shown(version)}: expected YYYY-MM, such as {CURRENT_API_VERSION}"
        )
    return version


# the scheme in any case, then any blanks (RFC 9110 allows one space; clients send others)
_BEARER = re.compile(r"bearer\s+", re.IGNORECASE)


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if scheme := _BEARER.match(value):
        value = value[scheme.end() :]
    return value or None


async def authenticate(services: Services, headers: Mapping[str, str]) -> User | None:
    """The user behind a request's headers (or a websocket's connection_init payload)."""
    # the blanks around a value are no part of it: some HTTP parsers (httptools) and every
    # connection_init payload keep them
    lowered = {
        key.lower(): value.strip() for key, value in headers.items() if isinstance(value, str)
    }
    token = bearer_token(lowered.get("authorization"))
    if token:
        return await services.accounts.user_by_token(token)
    token_id, secret = lowered.get("x-bloo-token-id"), lowered.get("x-bloo-token-secret")
    if token_id and secret:
        return await services.accounts.user_by_token_pair(
            token_id, secret, lowered.get("x-bloo-company-id") or None
        )
    return None
