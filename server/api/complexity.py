"""monday's complexity budget in the schema: the extension that charges each operation before it
runs, and the `complexity` query field that shows the figures (server/complexity.py has the model)."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator

import strawberry
from strawberry.extensions import SchemaExtension

from server import complexity
from server.api.context import Context, Info

# the figures of the operation running in this task (websocket operations each get a task)
_current: contextvars.ContextVar[complexity.Charge | None] = contextvars.ContextVar(
    "complexity_charge", default=None
)


class ComplexityBudget(SchemaExtension):
    """Cost the validated document, then charge the caller's account or refuse with 429."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if isinstance(context, Context) and context.user_or_none is not None:
            assert execution.graphql_document is not None  # execution follows validation
            cost = complexity.operation_cost(
                execution.schema._schema,
                execution.graphql_document,
                execution.operation_name,
                execution.variables,
            )
            services = context.services
            charged = await complexity.charge(
                services.pool, context.user_or_none.account_id, cost, services.clock.now()
            )
            # no reset afterwards: the value dies with the request's (or operation's) task
            _current.set(charged)
        yield


@strawberry.type(description="The complexity figures of the current request.")
class Complexity:
    before: int = strawberry.field(description="The budget left before this query ran.")
    after: int = strawberry.field(description="The budget left after this query.")
    query: int = strawberry.field(description="This query's complexity.")
    reset_in_x_seconds: int = strawberry.field(
        description="Seconds until the account's budget is full again."
    )


@strawberry.type
class ComplexityQuery:
    @strawberry.field(description="The complexity of this query and the budget it leaves.")
    def complexity(self, info: Info) -> Complexity | None:
        charged = _current.get()
        if charged is None:
            return None
        return Complexity(
            before=charged.before,
            after=charged.after,
            query=charged.query,
            reset_in_x_seconds=charged.reset_in_x_seconds,
        )
