"""The one GraphQL schema that serves both API dialects."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from server.api.account import AccountQuery
from server.api.blue import BlueMutation, BlueQuery, BlueSubscription
from server.api.blue_export import BlueExportMutation
from server.api.monday_import import MondayImportMutation, MondayImportQuery
from server.api.monday_v2 import MondayQuery

Query = merge_types("Query", (MondayQuery, MondayImportQuery, BlueQuery, AccountQuery))
Mutation = merge_types(
    "Mutation",
    (
        MondayImportMutation,
        BlueMutation,
        BlueExportMutation,
    ),
)

MAX_DEPTH = 6  # levels of nesting, as monday documents
MAX_ALIASES = 30  # aliases per document, fragments included
MAX_TOKENS = 10_000  # lexer tokens per document

# Field names are written exactly as each API spells them: snake_case for monday, camelCase for Blue.
schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=BlueSubscription,
    config=StrawberryConfig(auto_camel_case=False),
    # factories: one extension per request, as strawberry asks
    extensions=[
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ],
)


def schema_sdl() -> str:
    """The SDL written to `schema.graphql`."""
    return schema.as_str() + "\n"
