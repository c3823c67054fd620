"""monday's complexity model: what an operation costs, and each account's budget per minute.

The cost is computed from the validated document, before anything runs:

- A leaf field (a scalar or an enum, or a list of them) costs 1.
- A field returning one object costs what its selection costs.
- A field returning a list of objects costs n times what its selection costs, n being its
  `limit` argument, else the number of `ids` it names, else 1,000 (monday's figure for a
  list queried without a limit; 25 for a list of updates, which monday names as an object
  with a default of its own); with both, the smaller. So nested lists multiply:
  `boards { items { id } }` costs 1,000 x 1,000 x 1 = 1,000,000, as monday's example says,
  and `boards(limit: 10) { id name }` costs 10 x 2 = 20.
- Fragments, inline or named, add their selection to the field they are spread in; `@skip`
  and `@include` are not looked at (the cost is an upper bound).
- Introspection (`__schema`, `__type`, `__typename`) and the `complexity` field itself are free.
- An operation costs the sum of its top-level fields. Queries, mutations and subscriptions
  (once, when they start) are all charged.

The budget is 10,000,000 per account per minute, kept in PostgreSQL so that every process
sharing the database spends the same one. A window opens with the account's first charged
operation and lasts 60 seconds on the server clock (which the admin clock moves); an
operation that does not fit in what is left is refused whole, charging nothing, with
`retry_in_seconds` until the window ends. One dearer than the whole budget never runs: its
error shows `complexity` above `complexity_budget_limit`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    value_from_ast_untyped,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from server import sql
from server.db import Pool
from server.errors import AppError

Q = sql.queries("complexity")

BUDGET_PER_MINUTE = 10_000_000  # complexity points per account per window
WINDOW = timedelta(minutes=1)
UNLIMITED_LIST = 1000  # the multiplier of an object list queried without a limit
# object types whose lists default to another multiplier, as monday documents
UNLIMITED_LISTS_OF = {"Update": 25}
FREE_FIELDS = frozenset({"complexity", "__schema", "__type", "__typename"})


class ComplexityBudgetExhausted(AppError):
    """monday's current error for an account over its budget, with HTTP 429."""

    code = "COMPLEXITY_BUDGET_EXHAUSTED"
    status_code = 429

    def __init__(self, *, cost: int, left: int, retry_in_seconds: int) -> None:
        super().__init__(
            "Complexity budget exhausted",
            extensions={
                "complexity": cost,
                "complexity_budget_left": left,
                "complexity_budget_limit": BUDGET_PER_MINUTE,
                "retry_in_seconds": retry_in_seconds,
            },
        )


@dataclass(frozen=True, kw_only=True)
class Charge:
    """One operation's figures, in monday's names: the budget before and after it, its cost."""

    before: int
    after: int
    query: int
    reset_in_x_seconds: int


class _Cost:
    """The cost walk over one operation; named fragments are costed once each."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.fragment_costs: dict[str, int] = {}

    def selection(self, selection_set: SelectionSetNode, parent: GraphQLCompositeType) -> int:
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent)
            elif isinstance(node, InlineFragmentNode):
                total += self.selection(node.selection_set, self._condition(node, parent))
            elif isinstance(node, FragmentSpreadNode):
                total += self.fragment(node.name.value, parent)
        return total

    def fragment(self, name: str, parent: GraphQLCompositeType) -> int:
        # memoised: a fragment spread many times (or spreading others) is walked once
        if name not in self.fragment_costs:
            definition = self.fragments[name]
            self.fragment_costs[name] = self.selection(
                definition.selection_set, self._condition(definition, parent)
            )
        return self.fragment_costs[name]

    def _condition(
        self, node: InlineFragmentNode | FragmentDefinitionNode, parent: GraphQLCompositeType
    ) -> GraphQLCompositeType:
        if node.type_condition is None:
            return parent
        found = self.schema.get_type(node.type_condition.name.value)
        return found if is_composite_type(found) else parent

    def field(self, node: FieldNode, parent: GraphQLCompositeType) -> int:
        name = node.name.value
        if name in FREE_FIELDS or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0  # a union has no fields of its own but __typename
        definition = parent.fields.get(name)
        if definition is None or node.selection_set is None:
            return 1  # a leaf (validation has already refused unknown fields)
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 1
        inner = self.selection(node.selection_set, named)
        if is_list_type(get_nullable_type(definition.type)):
            return self.list_size(node, UNLIMITED_LISTS_OF.get(named.name, UNLIMITED_LIST)) * inner
        return inner

    def list_size(self, node: FieldNode, unlimited: int) -> int:
        arguments = {
            arg.name.value: value_from_ast_untyped(arg.value, dict(self.variables))
            for arg in node.arguments or ()
        }
        sizes = [unlimited]
        limit = arguments.get("limit")
        if isinstance(limit, int) and not isinstance(limit, bool):
            sizes = [max(limit, 1)]
        ids = arguments.get("ids")
        if isinstance(ids, list):
            sizes.append(max(len(ids), 1))
        elif ids is not None:
            sizes.append(1)  # a single id where a list is expected
        return min(sizes)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """The complexity of the operation the request runs (see the module docstring)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    # the variables as execution will coerce them, defaults filled in; with one that does not
    # coerce (an Int past 32 bits) nothing runs, so nothing is charged and execution says why
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {})
    )
    if isinstance(coerced, list):
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return _Cost(schema, fragments, coerced.coerced).selection(operation.selection_set, root)


def _seconds_left(window_start: datetime, now: datetime) -> int:
    return max(1, math.ceil((window_start + WINDOW - now).total_seconds()))


async def charge(pool: Pool, account_id: int, cost: int, now: datetime) -> Charge:
    """Spend `cost` of the account's budget, or raise COMPLEXITY_BUDGET_EXHAUSTED."""
    if cost <= BUDGET_PER_MINUTE:
        row = await pool.fetchrow(Q["charge"], account_id, now, cost, BUDGET_PER_MINUTE, WINDOW)
        if row is not None:
            after = BUDGET_PER_MINUTE - int(row["used"])
            return Charge(
                before=after + cost,
                after=after,
                query=cost,
                reset_in_x_seconds=_seconds_left(row["window_start"], now),
            )
    row = await pool.fetchrow(Q["budget"], account_id, now, WINDOW)
    if row is None:  # no open window: only a query dearer than the whole budget gets here
        raise ComplexityBudgetExhausted(
            cost=cost, left=BUDGET_PER_MINUTE, retry_in_seconds=_seconds_left(now, now)
        )
    raise ComplexityBudgetExhausted(
        cost=cost,
        left=max(0, BUDGET_PER_MINUTE - int(row["used"])),
        retry_in_seconds=_seconds_left(row["window_start"], now),
    )
