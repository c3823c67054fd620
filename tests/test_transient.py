"""Which failures of a job are outages, resumed after the lease, rather than its end."""

from __future__ import annotations

import asyncpg

from server.imports import processing


def test_a_pooled_connection_asyncpg_hands_out_broken_is_an_outage() -> None:
    # a session that ended while its process was frozen (or the database cut it) can stay in
    # the pool in a broken state; the next statement on it fails with InternalClientError.
    # A job that met it ended FAILED at once (INTERNAL_ERROR) instead of resuming.
    broken = asyncpg.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"
    )
    assert processing.is_transient(broken)
