"""monday's complexity model: each query's cost, and the per-account budget per minute."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

BUDGET = 10_000_000
FIGURES = "complexity { before after query reset_in_x_seconds }"
# 5 boards x 1,000 items x 1,000 column values x 1 field: half the budget in one query
HALF_BUDGET = "{ boards(limit: 5) { items { column_values { id } } } }"


async def cost_of(api: Api, selection: str, variables: dict[str, Any] | None = None) -> int:
    data = await api.gql(f"query {{ complexity {{ query }} {selection} }}", variables)
    return int(data["complexity"]["query"])


async def test_complexity_field_reports_the_query_cost_and_the_budget_around_it(api: Api) -> None:
    data = await api.gql(f"{{ {FIGURES} boards(limit: 10) {{ id name }} }}")
    figures = data["complexity"]
    assert figures["query"] == 20  # 10 boards x 2 fields
    assert figures["before"] == BUDGET
    assert figures["after"] == BUDGET - 20
    assert 0 < figures["reset_in_x_seconds"] <= 60
    again = (await api.gql(f"{{ {FIGURES} me {{ id }} }}"))["complexity"]
    assert again == {**again, "before": BUDGET - 20, "query": 1, "after": BUDGET - 21}


async def test_unlimited_lists_cost_a_thousand_and_nested_lists_multiply(api: Api) -> None:
    # monday's own example: all boards and their items is 1,000 x 1,000
    assert await cost_of(api, "boards { items { id } }") == 1_000_000
    assert await cost_of(api, "boards { id }") == 1000
    assert await cost_of(api, "boards(limit: 3) { id items(limit: 5) { id name } }") == 33
    # named ids are a list of known size
    assert await cost_of(api, "boards(ids: [100, 200]) { items(limit: 4) { id } }") == 8
    assert await cost_of(api, "me { id name teams { id } }") == 1002


async def test_cost_follows_variables_fragments_and_defaults(api: Api) -> None:
    query = """query($n: Int = 7) { complexity { query } boards(limit: $n) { ...B } }
        fragment B on Board { id ...C } fragment C on Board { name }"""
    assert (await api.gql(query))["complexity"]["query"] == 14
    assert (await api.gql(query, {"n": 2}))["complexity"]["query"] == 4


async def test_introspection_and_the_complexity_field_are_free(api: Api) -> None:
    assert await cost_of(api, "__schema { types { name fields { name } } }") == 0
    assert await cost_of(api, "__typename") == 0


async def test_the_budget_belongs_to_the_account(api: Api) -> None:
    await api.gql(HALF_BUDGET)
    bob = (await api.gql(f"{{ {FIGURES} }}", token="tok-bob"))["complexity"]
    assert bob["before"] == BUDGET - 5_000_000
    gus = (await api.gql(f"{{ {FIGURES} }}", token="tok-gus"))["complexity"]
    assert gus["before"] == BUDGET


def budget_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("data") is None, body
    (error,) = body["errors"]
    assert error["message"] == "Complexity budget exhausted"
    extensions: dict[str, Any] = error["extensions"]
    assert extensions["code"] == "COMPLEXITY_BUDGET_EXHAUSTED"
    assert extensions["status_code"] == 429
    assert extensions["complexity_budget_limit"] == BUDGET
    return extensions


async def test_exhausted_budget_gives_monday_error_with_http_429(api: Api) -> None:
    await api.gql(HALF_BUDGET)
    await api.gql(HALF_BUDGET)
    response = await api.post("{ boards(limit: 1) { id } }")
    assert response.status_code == 429
    extensions = budget_error(response.json())
    assert extensions["complexity"] == 1
    assert extensions["complexity_budget_left"] == 0
    assert 0 < extensions["retry_in_seconds"] <= 60
    assert extensions["request_id"]
    # other accounts are not affected
    assert await api.gql("{ me { id } }", token="tok-gus") == {"me": {"id": "20"}}


async def test_a_query_that_does_not_fit_is_refused_whole_and_charges_nothing(api: Api) -> None:
    await api.gql(HALF_BUDGET)
    await api.gql("{ boards(limit: 4) { items { column_values { id } } } }")  # 4,000,000
    response = await api.post(HALF_BUDGET)
    assert response.status_code == 429
    extensions = budget_error(response.json())
    assert extensions["complexity"] == 5_000_000
    assert extensions["complexity_budget_left"] == 1_000_000
    figures = (await api.gql(f"{{ {FIGURES} }}"))["complexity"]
    assert figures["before"] == 1_000_000


async def test_a_query_dearer_than_the_whole_budget_is_always_refused(api: Api) -> None:
    response = await api.post("{ boards { items { column_values { id } } } }")
    assert response.status_code == 429
    extensions = budget_error(response.json())
    assert extensions["complexity"] == 1_000_000_000
    assert extensions["complexity_budget_left"] == BUDGET


async def test_mutations_are_charged_and_refused_too(api: Api) -> None:
    await api.gql(HALF_BUDGET)
    await api.gql(HALF_BUDGET)
    response = await api.post(
        'mutation { ingest_items(board_id: "100", group_id: "topics") { job_id } }'
    )
    assert response.status_code == 429
    budget_error(response.json())


async def test_budget_refills_when_the_server_clock_passes_the_minute(api: Api) -> None:
    await api.gql(HALF_BUDGET)
    await api.gql(HALF_BUDGET)
    assert (await api.post("{ me { id } }")).status_code == 429
    moved = await api.admin("POST", "/__admin/clock", {"advance_seconds": 61})
    assert moved.status_code == 200, moved.text
    figures = (await api.gql(f"{{ {FIGURES} }}"))["complexity"]
    assert figures["before"] == BUDGET


async def test_admin_reset_clears_the_budget(api: Api) -> None:
    await api.gql(HALF_BUDGET)
    await api.gql(HALF_BUDGET)
    assert (await api.post("{ me { id } }")).status_code == 429
    assert (await api.admin("POST", "/__admin/reset")).status_code == 200
    figures = (await api.gql(f"{{ {FIGURES} }}"))["complexity"]
    assert figures["before"] == BUDGET


async def test_unlimited_lists_of_updates_cost_25_as_documented(api: Api) -> None:
    # monday's example: `updates { id }` has the default complexity of 25
    assert await cost_of(api, "updates { id }") == 25
    assert await cost_of(api, "updates(limit: 100) { id }") == 100
    assert await cost_of(api, "updates(ids: [1, 2]) { id }") == 2
    assert await cost_of(api, "boards(limit: 2) { updates { id } }") == 50
    assert await cost_of(api, "items(limit: 2) { updates { id body } }") == 100


async def test_a_variable_that_does_not_coerce_is_a_validation_error_and_charges_nothing(
    api: Api,
) -> None:
    # the cost was read from the raw variables: limit 2**70 (no GraphQL Int) cost 2**70, and
    # the answer was HTTP 429 COMPLEXITY_BUDGET_EXHAUSTED instead of the variable's error
    query = "query($n: Int) { boards(limit: $n) { id } }"
    response = await api.post(query, {"n": 2**70})
    assert response.status_code == 200, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Int cannot represent non 32-bit signed integer value" in error["message"]
    data = await api.gql(f"{{ {FIGURES} }}")
    assert data["complexity"]["before"] == BUDGET
