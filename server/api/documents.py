"""Query texts parsed once, within the token limit, and caches a client cannot grow.

The transports look at a request's document before it runs (the operation it names, whether
it subscribes, its root fields, its fields' API versions) and strawberry parses it again to
run it: all of them take it from here.

- Every parse stops at MAX_TOKENS. graphql-core's own parse has no limit: 5 MB of field
  names took 35 s of CPU on the event loop, the server answering nothing meanwhile.
- Its lexer reads about 3 MB of text a second whatever the text holds (a comment, a string):
  a long text is parsed in a thread (`parse_ahead`) so the event loop keeps answering.
- Parses and validations are kept per text for short texts of few tokens only (polls, v2
  queries repeat theirs). Keyed by a 5 MB text, 40 distinct requests grew the server by
  750 MiB; 512 texts of 10,000 tokens, 1.5 GiB: such a text is kept only for the request it
  came with (the last few of them).
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TypeVar

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, GraphQLSyntaxError
from graphql import parse as graphql_parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

MAX_TOKENS = 10_000  # lexer tokens per document
PARSED_QUERIES = 512  # distinct query texts whose parse and validation are kept
SHORT_TEXT = 16 * 1024  # characters: a longer text is parsed in a thread and never kept
# A kept document takes up to about 900 bytes a token with its validation errors: 512
# distinct texts of 10,000 tokens (10 KB each) grew the server 1.5 GiB, and a full garbage
# collection walking them held the event loop a second; 512 of 1,000 tokens took 140 MiB, of
# 200 tokens 94 MiB. Kept queries are repeated ones (polls, v2 reads: the tests' largest has
# 143 tokens).
KEPT_TOKENS = 200  # tokens of a document kept in the caches
LONG_TEXTS_KEPT = 4  # documents not kept, held for the requests running them

T = TypeVar("T")


_Parse = DocumentNode | GraphQLSyntaxError  # a text's document, or why it has none


def _parse(query: str) -> _Parse:
    try:
        return graphql_parse(query, max_tokens=MAX_TOKENS)
    except GraphQLSyntaxError as exc:
        # kept without its traceback: the parser's frames hold the lexer's chain of tokens
        return exc.with_traceback(None)


def _token_count(parse: _Parse) -> int:
    token = parse.loc.start_token if isinstance(parse, DocumentNode) and parse.loc else None
    count = 0
    while token is not None:
        count += 1
        token = token.next
    return count


class _Documents:
    """The documents of the last `size` texts placed, by text."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.documents: OrderedDict[str, _Parse] = OrderedDict()

    def __contains__(self, query: str) -> bool:
        return query in self.documents

    def get(self, query: str) -> _Parse:
        self.documents.move_to_end(query)
        return self.documents[query]

    def place(self, query: str, parse: _Parse) -> None:
        self.documents[query] = parse
        while len(self.documents) > self.size:
            self.documents.popitem(last=False)


_kept = _Documents(PARSED_QUERIES)  # short texts of few tokens (polls, v2 queries repeat theirs)
_passing = _Documents(LONG_TEXTS_KEPT)  # the others, for the requests running them


def is_kept(query: str) -> bool:
    """Whether the text's document is kept, and what is made of it may be kept too."""
    return query in _kept


def _place(query: str, parse: _Parse) -> None:
    if len(query) <= SHORT_TEXT and _token_count(parse) <= KEPT_TOKENS:
        _kept.place(query, parse)
    else:
        _passing.place(query, parse)


def _parsed(query: str) -> _Parse:
    for documents in (_kept, _passing):
        if query in documents:
            return documents.get(query)
    parse = _parse(query)
    _place(query, parse)
    return parse


def parsed(query: str) -> DocumentNode | None:
    """The parsed query, None when it does not parse or has too many tokens (`syntax_error`
    says why)."""
    parse = _parsed(query)
    return parse if isinstance(parse, DocumentNode) else None


async def parse_ahead(query: str) -> None:
    """Parse a long text in a thread before the request's checks ask for its document."""
    if len(query) > SHORT_TEXT and query not in _passing:
        _place(query, await asyncio.to_thread(_parse, query))


def syntax_error(query: str) -> GraphQLSyntaxError | None:
    """Why the query does not parse (too many tokens included); None when it does. Taken
    from the one parse: parsing 5 MB again to its 10,000th token held the event loop 0.3 s."""
    parse = _parsed(query)
    return parse if isinstance(parse, GraphQLSyntaxError) else None


def per_kept_text(function: Callable[[str, str | None], T]) -> Callable[[str, str | None], T]:
    """`function` of a query text (and operation name), its results kept for kept texts."""
    cached = functools.lru_cache(maxsize=PARSED_QUERIES)(function)

    @functools.wraps(function)
    def call(query: str, operation_name: str | None = None) -> T:
        return cached(query, operation_name) if is_kept(query) else function(query, operation_name)

    return call


_validated = functools.lru_cache(maxsize=PARSED_QUERIES)(validate_document)


def validated(
    query: str,
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
) -> list[GraphQLError]:
    """The document's validation errors, kept for a kept text's document."""
    validate = _validated if is_kept(query) else validate_document
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
    """strawberry's ValidationCache, keeping only kept texts' documents."""

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
