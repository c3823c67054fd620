"""The one GraphQL schema that serves both API dialects."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from server import auth
from server.api.account import AccountQuery
from server.api.blue import BlueMutation, BlueQuery, BlueSubscription
from server.api.blue_export import BlueExportMutation
from server.api.complexity import ComplexityBudget, ComplexityQuery
from server.api.context import Context
from server.api.documents import MAX_TOKENS, SharedParse, SharedValidation
from server.api.int_ids import IntIdVariables
from server.api.monday_import import (
    MondayImportMutation,
    MondayImportQuery,
    MondayImportSubscription,
)
from server.api.monday_v2 import MondayQuery
from server.api.monday_v2_mutations import MondayMutation
from server.api.variable_values import VariableValuesLimit
from server.errors import AppError, format_error

Query = merge_types(
    "Query", (MondayQuery, MondayImportQuery, BlueQuery, AccountQuery, ComplexityQuery)
)
Mutation = merge_types(
    "Mutation",
    (
        MondayImportMutation,
        BlueMutation,
        BlueExportMutation,
        MondayMutation,
    ),
)
Subscription = merge_types("Subscription", (BlueSubscription, MondayImportSubscription))

MAX_DEPTH = 6  # levels of nesting, as monday documents
MAX_ALIASES = 30  # aliases per document, fragments included
# The depth and alias limits as validation rules, built once: each QueryDepthLimiter or
# MaxAliasesLimiter builds a rule class of its own, and the validation cache, keyed by the
# rules too, then missed on every request (validation was 45% of a status poll's CPU).
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # an AppError is an answer to the caller, not a server fault, and so is a variable value
        # graphql-core refused (strawberry logged it at ERROR with its coercion's traceback):
        # only the rest is logged
        unexpected = [
            e
            for e in errors
            if not isinstance(e.original_error, AppError) and not _refused_value(e)
        ]
        context = execution_context.context if execution_context else None
        if isinstance(context, Context) and isinstance(context.request, WebSocket):
            # HTTP answers are formatted in the view; a websocket's go out as `formatted`,
            # which would carry an internal error's own message (a driver's, a path...)
            unexpected = [e for e in unexpected if not _masked(e, context.operation_request_id)]
        super().process_errors(unexpected, execution_context)


class ApiVersionGate(SchemaExtension):
    """Refuse the fields a websocket operation names that its API version does not have yet
    (the view refuses them in HTTP requests before they get here)."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        query = self.execution_context.query
        if isinstance(context, Context) and query:
            gated = auth.version_gated_fields(query, context.api_version)
            if gated:
                raise auth.VersionGatedField(gated[0], context.api_version)
        yield


def _refused_value(error: GraphQLError) -> bool:
    """A client's variable value that graphql-core refused to coerce. (A GraphQLError raised in
    a field, such as an Int the server returned out of range, has a path: a server fault.)"""
    return isinstance(error.original_error, GraphQLError) and error.path is None


def _masked(error: GraphQLError, request_id: str) -> bool:
    """Give an internal error the message and code HTTP answers give it (and log it)."""
    if error.original_error is None or error.path is None:
        return False  # graphql-core's own errors: the message is safe
    formatted = format_error(error.original_error, error.message, request_id)
    error.message = formatted["message"]
    error.extensions = formatted["extensions"]
    return True


# Field names are written exactly as each API spells them: snake_case for monday, camelCase for Blue.
schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(auto_camel_case=False),
    # factories: one extension per request, as strawberry asks
    extensions=[
        # parsing and validating the same query text again is most of a poll's cost
        SharedParse,
        IntIdVariables,  # before validation: it can change the document validated
        lambda: AddValidationRules(LIMIT_RULES),
        SharedValidation,
        VariableValuesLimit,  # before graphql-core coerces them, value by value
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ApiVersionGate,  # before the budget: a refused operation costs nothing
        lambda: ComplexityBudget(),
    ],
)


def schema_sdl() -> str:
    """The SDL written to `schema.graphql`."""
    return schema.as_str() + "\n"
