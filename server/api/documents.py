"""Query texts parsed once, within the token limit, and caches a client cannot grow.

The transports look at a request's document before it runs (the operation it names, whether
it subscribes, its root fields, its fields' API versions) and strawberry parses it again to
run it: all of them take it from here.

- Every parse stops at MAX_TOKENS. graphql-core's own parse has no limit: 5 MB of field
  names took 35 s of CPU on the event loop, the server answering nothing meanwhile.
- Its lexer reads about 3 MB of text a second whatever the text holds (a comment, a string):
  a long text is parsed in a thread (`parse_ahead`) so the event loop keeps answering.
- Parses and validations are kept per text for short texts only (polls, v2 queries repeat
  theirs). Keyed by a 5 MB text, 40 distinct requests grew the server by 750 MiB: a long
  text is kept only for the request it came with (the last few of them).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, GraphQLSyntaxError
from graphql import parse as graphql_parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

MAX_TOKENS = 10_000  # lexer tokens per document
PARSED_QUERIES = 512  # distinct short query texts whose parse and validation are kept
SHORT_TEXT = 16 * 1024  # characters: a text kept in the caches; longer ones parse in a thread
LONG_TEXTS_KEPT = 4  # long texts whose parse is kept, for the requests running them

T = TypeVar("T")


def _parse(query: str) -> DocumentNode | None:
    try:
        return graphql_parse(query, max_tokens=MAX_TOKENS)
    except GraphQLSyntaxError:
        return None


_parsed_short = functools.lru_cache(maxsize=PARSED_QUERIES)(_parse)
_parsed_long = functools.lru_cache(maxsize=LONG_TEXTS_KEPT)(_parse)


def is_short(query: str) -> bool:
    return len(query) <= SHORT_TEXT


def parsed(query: str) -> DocumentNode | None:
    """The parsed query, None when it does not parse or has too many tokens (strawberry then
    parses it again, within the same limit, and reports the error)."""
    return _parsed_short(query) if is_short(query) else _parsed_long(query)


async def parse_ahead(query: str) -> None:
    """Parse a long text in a thread before the request's checks ask for its document."""
    if not is_short(query):
        await asyncio.to_thread(parsed, query)


def syntax_error(query: str) -> GraphQLSyntaxError | None:
    """Why the query does not parse (too many tokens included); None when it does."""
    if parsed(query) is not None:
        return None
    try:
        graphql_parse(query, max_tokens=MAX_TOKENS)
    except GraphQLSyntaxError as exc:
        return exc
    return None


def per_short_text(function: Callable[[str, str | None], T]) -> Callable[[str, str | None], T]:
    """`function` of a query text (and operation name), its results kept for short texts."""
    cached = functools.lru_cache(maxsize=PARSED_QUERIES)(function)

    @functools.wraps(function)
    def call(query: str, operation_name: str | None = None) -> T:
        return cached(query, operation_name) if is_short(query) else function(query, operation_name)

    return call


_validated = functools.lru_cache(maxsize=PARSED_QUERIES)(validate_document)


def validated(
    query: str,
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
) -> list[GraphQLError]:
    """The document's validation errors, kept for a short text's document."""
    validate = _validated if is_short(query) else validate_document
    return validate(schema, document, rules)


class SharedParse(SchemaExtension):
    """Runs the request's document from the caches above. A query that does not parse is
    left to strawberry, whose parse (given MAX_TOKENS by `MaxTokensLimiter`) says why."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            context.graphql_document = parsed(context.query)
        yield


class SharedValidation(SchemaExtension):
    """strawberry's ValidationCache, keeping only short texts' documents."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None  # validation follows a parse
        context.pre_execution_errors = validated(
            context.query or "",
            context.schema._schema,
            context.graphql_document,
            context.validation_rules,
        )
        yield
