"""monday's bulk import in its three documented steps, as a client runs them: start the job
(`ingest_items` or `backfill_items`), PUT the CSV to the pre-signed URL, poll
`fetch_job_status` until the job ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from server.cli.client import Client, ClientError, GraphQLError

POLL_INTERVAL = 1.0  # seconds between fetch_job_status calls
TERMINAL = frozenset({"COMPLETED", "FAILED", "REJECTED"})
# The refusals that tell the client to wait (HTTP 429), with retryAfterMs or retry_in_seconds
WAIT_CODES = frozenset({"RATE_LIMIT_EXCEEDED", "COMPLEXITY_BUDGET_EXHAUSTED"})
LONGEST_RETRY_WAIT = 3600.0  # seconds: a longer wait asked for is cut to this
# Failures that may pass (the server restarting, a proxy's 502, a dropped connection): a
# patient poll asks again after a backoff doubling from POLL_INTERVAL up to LONGEST_BACKOFF.
# Refusals that will not change (NOT_FOUND, USER_UNAUTHORIZED, BAD_USER_INPUT...) still end
# the wait at once.
TRANSIENT_CODES = frozenset({"TIMEOUT", "CONNECTION_ERROR", "INTERNAL_SERVER_ERROR"})
LONGEST_BACKOFF = 10.0  # seconds
STATUS_FIELDS = """status counts { submitted invalid skipped created updated failed }
    progress_percentage failure_reason failure_message fully_imported report_created report_url"""
STATUS_QUERY = (
    "query($id: ID!) { fetch_job_status(job_id: $id) { ... on ItemsJobStatus { "
    + STATUS_FIELDS
    + " } } }"
)
# a board's groups include its archived (and deleted) ones, in board order
GROUPS_QUERY = "query($b: [ID!]) { boards(ids: $b) { id groups { id archived deleted } } }"

# The optional arguments of ingest_items/backfill_items and their GraphQL types; a caller
# passes them by these names, as the API spells them.
OPTION_TYPES = {
    "on_match": "ItemsJobOnMatchInput",
    "ignore_empty": "Boolean",
    "field_mappings": "[ItemsJobFieldMapping!]",
    "character_encoding": "String",
    "callback": "ItemsJobCallbackInput",
    "dry_run": "Boolean",
    "report": "ItemsJobReportMode",
    "subitems": "ItemsJobSubitemsInput",
}

StatusCallback = Callable[[dict[str, Any]], None]
# a failed status check that is asked again: the error and the seconds until then
RetryCallback = Callable[[ClientError, float], None]


@dataclass(frozen=True, kw_only=True)
class StartedJob:
    job_id: str
    upload_url: str


def start_job(
    client: Client,
    board_id: str,
    group_id: str,
    *,
    backfill: bool = False,
    token: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> StartedJob:
    """Step 1: `ingest_items` (or `backfill_items`) with the options that are not None."""
    given = {name: value for name, value in (options or {}).items() if value is not None}
    unknown = sorted(set(given) - set(OPTION_TYPES))
    if unknown:
        raise TypeError(f"unknown import options {unknown}; expected some of {list(OPTION_TYPES)}")
    mutation = "backfill_items" if backfill else "ingest_items"
    declared = "".join(f", ${name}: {OPTION_TYPES[name]}" for name in given)
    arguments = "".join(f", {name}: ${name}" for name in given)
    query = (
        f"mutation($b: ID!, $g: String!{declared}) {{ "
        f"{mutation}(board_id: $b, group_id: $g{arguments}) {{ job_id upload_url }} }}"
    )
    data = client.execute(query, {"b": str(board_id), "g": group_id, **given}, token=token)
    job = data[mutation]
    return StartedJob(job_id=str(job["job_id"]), upload_url=str(job["upload_url"]))


def job_status(
    client: Client, job_id: str, *, token: str | None = None, deadline: float | None = None
) -> dict[str, Any]:
    data = client.execute(STATUS_QUERY, {"id": job_id}, token=token, deadline=deadline)
    return dict(data["fetch_job_status"])


def wait_for_job(
    client: Client,
    job_id: str,
    *,
    token: str | None = None,
    interval: float = POLL_INTERVAL,
    timeout: float | None = None,
    on_status: StatusCallback | None = None,
    patient: bool = False,
    on_retry: RetryCallback | None = None,
) -> dict[str, Any]:
    """Step 3: poll `fetch_job_status` every `interval` seconds until the job ends. `patient`:
    a poll refused with "wait" (a rate limit, the account's complexity budget, which other
    clients of the account spend too) is asked again when the answer says, and one that
    failed in a way that may pass (`is_transient`) after a short backoff, within `timeout`,
    instead of raising while the job goes on."""
    deadline = None if timeout is None else time.monotonic() + timeout
    state = "waiting for fetch_job_status to answer"
    failed: ClientError | None = None  # the last of the transient failures in a row
    failures = 0
    while True:
        try:
            status = job_status(client, job_id, token=token, deadline=deadline)
        except ClientError as exc:
            if not patient:
                raise
            delay = retry_delay(exc) if isinstance(exc, GraphQLError) else None
            if delay is not None:  # answered, if only to say "wait"
                failed, failures = None, 0
            elif is_transient(exc):
                failed, failures = exc, failures + 1
                delay = min(interval * 2 ** (failures - 1), LONGEST_BACKOFF)
            if delay is None:
                raise
        else:
            failed, failures = None, 0
            if on_status is not None:
                on_status(status)
            if status["status"] in TERMINAL:
                return status
            state, delay = str(status["status"]), interval
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            if failed is not None:
                raise ClientError(
                    failed.code,
                    f"{failed.message} (job {job_id}: gave up after {failures} failed status "
                    f"checks in a row, {timeout:g} seconds)",
                ) from failed
            raise ClientError("TIMEOUT", f"job {job_id} still {state} after {timeout:g} seconds")
        wait = max(interval, delay if deadline is None else min(delay, deadline - now))
        if failed is not None and on_retry is not None:
            on_retry(failed, wait)
        time.sleep(wait)


def is_transient(error: ClientError) -> bool:
    """Whether a failed request may succeed if asked again: no connection, no answer in
    time, an internal server error, or an HTTP 5xx (a GraphQL one, or a proxy's own page)."""
    if error.code in TRANSIENT_CODES or error.code.startswith("HTTP_5"):
        return True
    return isinstance(error, GraphQLError) and error.status_code >= 500


def retry_delay(error: GraphQLError) -> float | None:
    """Seconds to wait before asking again after a refusal that says to wait (0 when it does
    not say how long); None for any other error."""
    if error.code not in WAIT_CODES:
        return None
    for name, seconds_per_unit in (("retryAfterMs", 0.001), ("retry_in_seconds", 1.0)):
        value = error.extensions.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return min(max(0.0, value * seconds_per_unit), LONGEST_RETRY_WAIT)
    return 0.0


def run_import(
    client: Client,
    board_id: str,
    group_id: str,
    content: bytes | IO[bytes],
    *,
    size: int | None = None,
    backfill: bool = False,
    token: str | None = None,
    options: Mapping[str, Any] | None = None,
    interval: float = POLL_INTERVAL,
    timeout: float | None = None,
    on_started: Callable[[StartedJob], None] | None = None,
    on_uploaded: Callable[[], None] | None = None,
    on_status: StatusCallback | None = None,
    patient: bool = False,
    on_retry: RetryCallback | None = None,
) -> dict[str, Any]:
    """All three steps; the final status, with its `job_id`. `content` is the file's bytes or
    a binary stream of `size` bytes; `patient` as in `wait_for_job`."""
    job = start_job(client, board_id, group_id, backfill=backfill, token=token, options=options)
    if on_started is not None:
        on_started(job)
    client.put_file(job.upload_url, content, size)
    if on_uploaded is not None:
        on_uploaded()
    status = wait_for_job(
        client, job.job_id, token=token, interval=interval, timeout=timeout,
        on_status=on_status, patient=patient, on_retry=on_retry,
    )  # fmt: skip
    return {**status, "job_id": job.job_id}


def first_group(client: Client, board_id: str, *, token: str | None = None) -> str:
    """The id of the board's top group (its first one neither archived nor deleted), where
    monday puts new items when none is named."""
    boards = client.execute(GROUPS_QUERY, {"b": [str(board_id)]}, token=token)["boards"]
    if not boards:
        raise ClientError("NOT_FOUND", f"Board {board_id} not found")
    groups = [g for g in boards[0]["groups"] if not g.get("archived") and not g.get("deleted")]
    if not groups:
        raise ClientError("NOT_FOUND", f"Board {board_id} has no open group")
    return str(groups[0]["id"])
