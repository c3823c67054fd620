"""Fixtures of the tests that stop, kill or freeze server processes sharing one data dir."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ServerProcess, start_server, stop_server


@pytest.fixture
async def first(shared: tuple[Path, dict[str, str]]) -> AsyncIterator[ServerProcess]:
    """A server process on the test module's `shared` data dir and environment, reset to the
    demo fixture; stopped after the test unless the test killed it."""
    data_dir, env = shared
    server = start_server(data_dir, extra_env=env)
    async with httpx.AsyncClient(base_url=server.url) as client:
        reset = await client.post("/__admin/reset", headers={"X-Admin-Token": ADMIN_TOKEN})
        assert reset.status_code == 200
    yield server
    if server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)  # a test that froze it may have failed
        stop_server(server)
