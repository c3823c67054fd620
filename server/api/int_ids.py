"""Id variables declared `Int`, as monday's API v2 pages write them.

The pages type ids as `Int` (`boards(ids: [Int])`, `create_item(board_id: Int!)`) and
clients copy that into their variables: `query ($ids: [Int]) { boards(ids: $ids) { id } }`.
This schema types ids as `ID`, as monday does since its 2023-10 version, and GraphQL refuses
an `Int` variable where an `ID` goes. So a variable declared with `Int` and used only where
ids go is read as declared with `ID`: the same JSON numbers pass (`ID` takes integers and
gives strings), the resolvers see ids as strings as from any client, and ids past 32 bits,
which `Int` cannot hold, pass too. A variable also used where a real `Int` goes (`limit`)
keeps its type, and so its validation error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import lru_cache

from graphql import (
    DocumentNode,
    GraphQLID,
    GraphQLInputType,
    GraphQLSchema,
    ListTypeNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeInfo,
    TypeNode,
    ValidationContext,
    VariableDefinitionNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from server.api.documents import is_kept

RETYPED_DOCUMENTS = 512  # documents with `Int` variables whose retyped copy is kept


class IntIdVariables(SchemaExtension):
    """Before validation, puts in the request a copy of its document in which `Int` id
    variables are `ID` ones; documents without an `Int` variable are left as they are."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and _declares_int(document):
            # a long text's document is not kept (documents.py), nor its retyped copy
            retype = retyped if is_kept(context.query or "") else retyped.__wrapped__
            context.graphql_document = retype(context.schema._schema, document)
        yield


def _declares_int(document: DocumentNode) -> bool:
    return any(
        _named_type_node(variable.type).name.value == "Int"
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        for variable in definition.variable_definitions or ()
    )


@lru_cache(maxsize=RETYPED_DOCUMENTS)  # the parser cache gives the same document again
def retyped(schema: GraphQLSchema, document: DocumentNode) -> DocumentNode:
    """`document` with each `Int` variable used only where ids go declared as `ID`."""
    context = ValidationContext(schema, document, TypeInfo(schema), lambda _error: None)
    definitions = tuple(
        _retyped_operation(context, definition)
        if isinstance(definition, OperationDefinitionNode)
        else definition
        for definition in document.definitions
    )
    return dataclasses.replace(document, definitions=definitions)


def _retyped_operation(
    context: ValidationContext, operation: OperationDefinitionNode
) -> OperationDefinitionNode:
    positions: dict[str, list[GraphQLInputType | None]] = {}
    for usage in context.get_recursive_variable_usages(operation):
        positions.setdefault(usage.node.name.value, []).append(usage.type)

    def declared(variable: VariableDefinitionNode) -> VariableDefinitionNode:
        used = positions.get(variable.variable.name.value)
        if _named_type_node(variable.type).name.value != "Int" or not used:
            return variable
        if not all(map(_takes_an_id, used)):
            return variable
        return dataclasses.replace(variable, type=_as_id(variable.type))

    variables = tuple(map(declared, operation.variable_definitions or ()))
    return dataclasses.replace(operation, variable_definitions=variables)


def _named_type_node(node: TypeNode) -> NamedTypeNode:
    while isinstance(node, ListTypeNode | NonNullTypeNode):
        node = node.type
    assert isinstance(node, NamedTypeNode)
    return node


def _as_id(node: TypeNode) -> TypeNode:
    if isinstance(node, NonNullTypeNode):
        inner = _as_id(node.type)
        assert isinstance(inner, NamedTypeNode | ListTypeNode)
        return NonNullTypeNode(type=inner, loc=node.loc)
    if isinstance(node, ListTypeNode):
        return ListTypeNode(type=_as_id(node.type), loc=node.loc)
    assert isinstance(node, NamedTypeNode)
    return NamedTypeNode(name=NameNode(value=GraphQLID.name, loc=node.name.loc), loc=node.loc)


def _takes_an_id(position: GraphQLInputType | None) -> bool:
    return position is not None and get_named_type(position) is GraphQLID
