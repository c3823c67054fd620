"""The test harness: a real server process (embedded PostgreSQL and S3) driven over HTTP."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.embedded_s3 import EmbeddedS3
from server.settings import DEFAULT_REGION, EMBEDDED_ACCESS_KEY, EMBEDDED_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
DEMO_FIXTURE = ROOT / "fixtures" / "demo.json"
ADMIN_TOKEN = "test-admin-token"
START_TIMEOUT = 60.0  # seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    data_dir: Path, *, extra_env: dict[str, str] | None = None, fixture: Path = DEMO_FIXTURE
) -> ServerProcess:
    """Start `python -m server` as a client would, and wait until /healthz says ok."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "S3_ENDPOINT_URL")}
    env.update(extra_env or {})
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "server", "--port", str(port),
                "--admin-token", ADMIN_TOKEN, "--data-dir", str(data_dir),
                "--fixture", str(fixture),
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return ServerProcess(url=url, process=process, log_path=log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not become healthy:\n{log_path.read_text(errors='replace')}")


def stop_server(server: ServerProcess) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextlib.contextmanager
def shared_s3(bucket: str, **extra_env: str) -> Iterator[dict[str, str]]:
    """An S3 endpoint outside any server process (it outlives them, and several share it);
    yields the environment that points a server at it."""
    s3 = EmbeddedS3(
        access_key=EMBEDDED_ACCESS_KEY, secret_key=EMBEDDED_SECRET_KEY, region=DEFAULT_REGION
    )
    s3.start()
    try:
        yield {"S3_ENDPOINT_URL": s3.endpoint_url, "S3_BUCKET": bucket, **extra_env}
    finally:
        s3.stop()


@contextlib.contextmanager
def server_pair(
    data_dir: Path, env: dict[str, str]
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes on one embedded PostgreSQL (one data dir) and one S3 endpoint."""
    first = start_server(data_dir, extra_env=env)
    second = start_server(data_dir, extra_env=env)
    try:
        yield first, second
    finally:
        stop_server(second)
        stop_server(first)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("server-data")
    # two parsing workers whatever the machine, so the import tests cover create-only files
    # shared between workers; the other servers of the suite take the default (one on 2 cores)
    started = start_server(data_dir, extra_env={"PARSE_WORKERS": "2"})
    yield started
    stop_server(started)


class Api:
    """A client of the running server: GraphQL calls with a token, plus the admin API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = "tok-ada",
        version: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = token
        if version is not None:
            sent["API-Version"] = version
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Run a query that must succeed; return its `data`."""
        response = await self.post(query, variables, **kwargs)
        body = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body
        return body["data"]

    async def admin(self, method: str, path: str, json: Any = None) -> httpx.Response:
        return await self.client.request(
            method, path, json=json, headers={"X-Admin-Token": ADMIN_TOKEN}
        )

    async def load_fixture(self, fixture: dict[str, Any]) -> None:
        response = await self.admin("POST", "/__admin/fixture", fixture)
        assert response.status_code == 200, response.text


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[Api]:
    """A client on a freshly reset server holding only the demo fixture."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        result = Api(client)
        response = await result.admin("POST", "/__admin/reset")
        assert response.status_code == 200, response.text
        yield result
