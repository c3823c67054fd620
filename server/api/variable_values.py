"""A limit on the values graphql-core coerces one by one from a request's variables.

graphql-core coerces a variable's value element by element before anything runs, and the
complexity budget reads the variables again to count ids: 600,000 ids in `boards(ids: $ids)`
(4.5 MB, under the body limit) held the event loop 2.4 s a request. A `JSON` value is read
whole, once (a dropdown's 10,000 labels stay possible): its contents are not counted.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, ListTypeNode, NonNullTypeNode, OperationDefinitionNode, TypeNode
from strawberry.extensions import SchemaExtension

MAX_VARIABLE_VALUES = 10_000  # values in the variables (lists and objects too), JSON ones aside
UNCOUNTED_TYPES = frozenset({"JSON"})  # scalars whose values are read whole


def _named_type(node: TypeNode) -> str:
    while isinstance(node, NonNullTypeNode | ListTypeNode):
        node = node.type
    return str(node.name.value)  # type: ignore[attr-defined]  # a NamedTypeNode


def count_values(values: list[object], limit: int) -> int:
    """The values in `values` and in their lists and objects (each list and object a value
    too), counted up to just past `limit`."""
    count = 0
    pending = list(values)
    while pending and count <= limit:
        item = pending.pop()
        count += 1
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return count


class VariableValuesLimit(SchemaExtension):
    """Refuses, as graphql-core refuses a value, variables holding more than
    MAX_VARIABLE_VALUES values, before they are coerced."""

    def on_validate(self) -> Iterator[None]:
        # before the yield, after SharedValidation's: strawberry reads the errors before the
        # hooks' ends run; a document that is not valid keeps its own errors
        context = self.execution_context
        if not context.pre_execution_errors and self._too_many_values():
            message = (
                f"Variables hold more than {MAX_VARIABLE_VALUES} values (each list and object "
                "counts, JSON values aside)"
            )
            context.pre_execution_errors = [GraphQLError(message)]
        yield

    def _too_many_values(self) -> bool:
        context = self.execution_context
        if not context.variables or context.graphql_document is None:
            return False
        counted = {
            definition.variable.name.value
            for operation in context.graphql_document.definitions
            if isinstance(operation, OperationDefinitionNode)
            for definition in operation.variable_definitions or ()
            if _named_type(definition.type) not in UNCOUNTED_TYPES
        }
        values = [value for name, value in context.variables.items() if name in counted]
        return count_values(values, MAX_VARIABLE_VALUES) > MAX_VARIABLE_VALUES
