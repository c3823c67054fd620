"""Bad input never crashes the server: every root field of schema.graphql, queried and
mutated with arguments that hypothesis-graphql generates (huge and negative numbers, empty,
long and unicode strings, NUL characters, nulls in lists, arbitrary JSON), answers over HTTP
with a coded GraphQL error or data, never INTERNAL_SERVER_ERROR nor HTTP 5xx nor a hang.

About one argument in four goes as a variable (its own value or any JSON value), which
graphql-core coerces apart from literals. Generated ids seldom name anything, so some of them are swapped for the demo fixture's ids
(boards, items, users, groups, columns, Blue project ids) to reach past the NOT_FOUND checks.
The examples are derandomized, so CI runs the same ones each time; run more locally with
FUZZ_EXAMPLES=2000 (per root field), and other examples with FUZZ_SEED=<int> (or
FUZZ_SEED=random: a failure names the seed it drew, to replay it).
"""

from __future__ import annotations

import json
import os
import random
import re
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from tests.conftest import ADMIN_TOKEN, ROOT, ServerProcess

SCHEMA = (ROOT / "schema.graphql").read_text("utf-8")
PARSED = graphql.build_schema(SCHEMA)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))  # per root field
REQUEST_TIMEOUT = 20.0  # seconds: longer is a hang
# what the server logs for a failure of its own: a masked internal error, or an exception that
# escaped to uvicorn, asyncio or a thread (these log a traceback without "internal error")
LOG_MARKERS = ["internal error", "Traceback (most recent call last)"]


def fuzz_seed() -> int | None:
    """FUZZ_SEED: unset for the derandomized examples, an int, or "random" for a fresh one."""
    given = os.environ.get("FUZZ_SEED", "").strip()
    if not given:
        return None
    return random.getrandbits(32) if given == "random" else int(given)


SEED = fuzz_seed()

# the admin twice as often as a member, a viewer and another account's admin
TOKENS = ["tok-ada", "tok-ada", "tok-bob", "tok-vera", "tok-gus"]
EDGE_STRINGS = [
    "", " ", "\x00", "a\x00b", "\ud7ff", "é漢字🎉", "x" * 10_000, "null", "0", "-1", "1.5",
    "1e308", "NaN", "99999999999999999999999999", "\n", "%", "_", "\\", "'; --",
]  # fmt: skip
IDS = [
    "100", "1000", "200", "300", "3000", "10", "11", "12", "20", "5", "-1", "0",
    "2147483648", "9223372036854775808", " 100", "1e3", "0x10", "\u0661\u0660\u0660",
]  # fmt: skip
COLUMNS = ["status", "text", "date", "email", "numeric", "dropdown", "people", "budget", "name"]
PROJECTS = ["leads", "100", "clm4n8qwx000008l0g4oxdqn7", "roadmap", "secrets", "acme"]
JSON_KEYS = [*COLUMNS, "label", "labels", "index", "ids", "personsAndTeams", "date", "time"]
JSON_KEYS += ["from", "to", "text", "url", "phone", "countryShortName", "checked", "item_ids"]
GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from([*EDGE_STRINGS, *IDS, "Done", "Option A", "2024-01-01"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(JSON_KEYS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


def json_node(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal; an object whose keys are no GraphQL names goes as
    its JSON text, as monday's clients send column values anyway."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([json_node(item) for item in value])
    if not all(GRAPHQL_NAME.fullmatch(key) for key in value):
        return nodes.String(json.dumps(value))
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=json_node(item))
            for key, item in value.items()
        ]
    )


JSON_SCALAR = (
    json_values.filter(lambda v: v is not None).map(json_node)
    | json_values.map(lambda v: nodes.String(json.dumps(v)))
    # nested past what orjson writes (254 levels), as JSON text: a literal nests only so deep
    | st.sampled_from([64, 65, 255, 300]).map(lambda n: nodes.String("[" * n + "]" * n))
)


# the demo fixture's names for an argument, by its name, the likeliest to be found first
KNOWN_BY_ARGUMENT = {
    "board_id": ["100", "200", "300"],
    "item_id": ["1000", "3000"],
    "user_id": ["11", "10", "20"],
    "target_id": ["100", "1000"],
    "group_id": ["topics", "closed", "TOPICS"],
    "projectid": PROJECTS,
}


def known_values(argument: str) -> list[str] | None:
    """The fixture's names for an argument, then other ids and edge cases."""
    name = argument.lower()
    if name.endswith("column_id"):
        return COLUMNS
    if name in KNOWN_BY_ARGUMENT:
        return KNOWN_BY_ARGUMENT[name] + IDS
    if name in ("id", "ids", "job_id"):
        return IDS
    return None


def with_known_values(document: graphql.DocumentNode, data: st.DataObject) -> str:
    """The generated operation with some argument values swapped for the fixture's ids or
    for edge-case strings."""

    def swap(name: str, value: graphql.ValueNode) -> graphql.ValueNode:
        known = known_values(name)
        scalar = (graphql.StringValueNode, graphql.IntValueNode)
        if known is not None and isinstance(value, (*scalar, graphql.ListValueNode)):
            choice = data.draw(
                st.sampled_from(["generated", "fixture", "fixture", "fixture", "any", "edge"])
            )
            pool = {"fixture": known[:3], "any": known, "edge": EDGE_STRINGS}.get(choice)
            if pool is not None:
                if isinstance(value, graphql.ListValueNode):
                    picked = data.draw(st.lists(st.sampled_from([*pool, ""]), max_size=4))
                    return nodes.List([nodes.String(item) for item in picked])
                return nodes.String(data.draw(st.sampled_from(pool)))
        if isinstance(value, graphql.StringValueNode) and data.draw(st.integers(0, 5)) == 0:
            return nodes.String(data.draw(st.sampled_from(EDGE_STRINGS)))
        if isinstance(value, graphql.ObjectValueNode):
            fields = [
                graphql.ObjectFieldNode(name=field.name, value=swap(field.name.value, field.value))
                for field in value.fields
            ]
            return nodes.Object(fields)
        if isinstance(value, graphql.ListValueNode):
            return nodes.List([swap(name, item) for item in value.values])
        return value

    class Swapper(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> graphql.ArgumentNode:
            return graphql.ArgumentNode(name=node.name, value=swap(node.name.value, node.value))

    return graphql.print_ast(graphql.visit(document, Swapper()))


def with_variables(query: str, data: st.DataObject) -> tuple[str, dict[str, Any]]:
    """The operation with some of its arguments sent as variables instead, of the argument's
    type: the literal's own value, or any JSON value (mostly of the wrong type), which
    graphql-core coerces, and refuses, apart from literals."""
    document = graphql.parse(query)
    type_info = graphql.TypeInfo(PARSED)
    definitions: list[graphql.VariableDefinitionNode] = []
    variables: dict[str, Any] = {}

    class Lift(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
            argument = type_info.get_argument()
            if argument is None or data.draw(st.integers(0, 3)) > 0:
                return None
            name = graphql.NameNode(value=f"v{len(variables)}")
            own = graphql.value_from_ast_untyped(node.value)
            variables[name.value] = data.draw(st.just(own) | json_values)
            definitions.append(
                graphql.VariableDefinitionNode(
                    variable=graphql.VariableNode(name=name),
                    type=graphql.parse_type(str(argument.type)),
                )
            )
            return graphql.ArgumentNode(name=node.name, value=graphql.VariableNode(name=name))

    document = graphql.visit(document, graphql.TypeInfoVisitor(type_info, Lift()))
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    lifted = graphql.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=(*(operation.variable_definitions or ()), *definitions),
        directives=operation.directives,
        selection_set=operation.selection_set,
    )
    return graphql.print_ast(graphql.DocumentNode(definitions=(lifted,))), variables


def problems_of(response: httpx.Response) -> list[str]:
    """What in an answer breaks the rule: a 5xx, a body that is no JSON, an internal error."""
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}: {response.text[:300]}"]
    try:
        body = response.json()
    except ValueError:
        return [f"not JSON (HTTP {response.status_code}): {response.text[:300]}"]
    return [
        f"{(error.get('extensions') or {}).get('code')}: {error.get('message')}"
        for error in body.get("errors") or []
        if (error.get("extensions") or {}).get("code") in (None, "INTERNAL_SERVER_ERROR")
    ]


ROOT_FIELDS = [("query", name) for name in PARSED.query_type.fields] + [
    ("mutation", name) for name in (PARSED.mutation_type.fields if PARSED.mutation_type else {})
]


@pytest.mark.parametrize(("kind", "field"), ROOT_FIELDS, ids=[f for _, f in ROOT_FIELDS])
def test_generated_operations_never_get_an_internal_error(
    server: ServerProcess, kind: str, field: str
) -> None:
    build = queries if kind == "query" else mutations
    operations = build(
        SCHEMA, fields=[field], custom_scalars={"JSON": JSON_SCALAR}, print_ast=lambda d: d
    )
    log_start = len(server.log())
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:

        def reset() -> None:
            response = client.post("/__admin/reset", headers={"X-Admin-Token": ADMIN_TOKEN})
            assert response.status_code == 200, response.text

        reset()

        @settings(
            max_examples=EXAMPLES,
            derandomize=SEED is None,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @seed(SEED)
        @given(document=operations, data=st.data())
        def answers_without_internal_error(document: graphql.DocumentNode, data: Any) -> None:
            query, variables = with_variables(with_known_values(document, data), data)
            token = data.draw(st.sampled_from(TOKENS))
            sent = {"query": query, "variables": variables}
            try:
                response = client.post("/graphql", json=sent, headers={"Authorization": token})
            except httpx.TimeoutException:
                pytest.fail(f"no answer in {REQUEST_TIMEOUT}s to {sent!r} as {token}")
            if response.status_code == 429:
                reset()  # a spent complexity budget or rate limit would hide the next examples
            problems = problems_of(response)
            assert not problems, f"{sent!r} as {token}: {problems} (FUZZ_SEED={SEED})"

        answers_without_internal_error()
    logged = server.log()[log_start:]
    for marker in LOG_MARKERS:
        assert marker not in logged, (
            f"FUZZ_SEED={SEED} " + logged[max(0, logged.index(marker) - 2000) :][:6000]
        )
