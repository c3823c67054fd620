"""A small synchronous client of the server's HTTP API: GraphQL calls, admin calls, downloads.

Every lower-level failure (httpx's, a body that is not JSON) leaves it as a `ClientError` with
a code and a message, translated in `translate_errors`; GraphQL errors become `GraphQLError`
with the first error's `extensions.code`. (Websockets, and so httpx-ws, are `server.cli.blue`'s
business: the pytest plugin imports this module and should not pay for them.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import IO, Any, Self

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 60.0  # seconds per HTTP request
# A request made before a deadline waits at most until it (it waited DEFAULT_TIMEOUT whatever
# --timeout said), but at least this long: the last status check, at the deadline, may still
# be answered.
SHORTEST_TIMEOUT = 1.0  # seconds
CHUNK_SIZE = 1024 * 1024  # bytes per read when downloading or uploading a file
ANSWER_SHOWN = 500  # characters of an unexpected answer repeated in an error message


class ClientError(Exception):
    """A failure the caller reports: `code` (a GraphQL or S3 error code, or our own) and
    `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class GraphQLError(ClientError):
    """The server answered with GraphQL errors; `errors` holds them all."""

    def __init__(self, errors: list[dict[str, Any]], status_code: int) -> None:
        first = errors[0] if errors else {}
        extensions = first.get("extensions") or {}
        super().__init__(
            str(extensions.get("code") or "GRAPHQL_ERROR"), str(first.get("message", ""))
        )
        self.errors = errors
        self.extensions: dict[str, Any] = dict(extensions)
        self.status_code = status_code


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn transport failures into `ClientError` (the one place that knows httpx's)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ClientError("TIMEOUT", f"the server did not answer in time: {exc}") from exc
    except httpx.HTTPError as exc:
        raise ClientError("CONNECTION_ERROR", f"{type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def refuse_undecodable() -> Iterator[None]:
    """A value that cannot be sent as UTF-8 JSON (a command-line argument of bytes that were
    not UTF-8, which Python keeps as lone surrogates) is the caller's error, not a traceback."""
    try:
        yield
    except UnicodeEncodeError as exc:
        around = exc.object[max(0, exc.start - 20) : exc.end + 20]
        shown = around.encode("utf-8", "backslashreplace").decode()
        raise ClientError("BAD_USER_INPUT", f"a value is not UTF-8 text: {shown!r}") from exc


def raise_for_errors(body: Mapping[str, Any], status_code: int) -> dict[str, Any]:
    """The `data` of a GraphQL response body, or `GraphQLError` if it carries errors."""
    errors = body.get("errors")
    if errors:
        raise GraphQLError(list(errors), status_code)
    data = body.get("data")
    if not isinstance(data, dict):  # `null` or missing with no error to tell why
        raise ClientError(f"HTTP_{status_code}", f"not a GraphQL answer: {clip(body)}")
    return data


def graphql_answer(response: httpx.Response) -> dict[str, Any]:
    """The response's body, if it is a GraphQL answer; else `ClientError`."""
    try:
        body = response.json()
    except ValueError as exc:
        raise ClientError(
            f"HTTP_{response.status_code}", f"not a GraphQL answer: {clip(response.text)}"
        ) from exc
    return check_answer(body, response.status_code)


def check_answer(body: object, status_code: int) -> dict[str, Any]:
    """`body` if it is shaped as a GraphQL answer (an object whose `errors`, when there, is a
    list of objects), else `ClientError`: a proxy's or framework's own JSON error page is no
    GraphQL answer, and reading it as one ended in a KeyError."""
    if not isinstance(body, dict):
        raise ClientError(f"HTTP_{status_code}", f"not a GraphQL answer: {clip(body)}")
    errors = body.get("errors")
    shaped = errors is None or (
        isinstance(errors, list) and all(isinstance(error, dict) for error in errors)
    )
    if not shaped or ("data" not in body and not errors):
        raise ClientError(f"HTTP_{status_code}", f"not a GraphQL answer: {clip(body)}")
    return body


def clip(value: object) -> str:
    """A body repeated in a message, at most ANSWER_SHOWN characters of it."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= ANSWER_SHOWN else text[:ANSWER_SHOWN] + "..."


def header_value(name: str, value: str) -> str:
    """`value` if HTTP can carry it as a header: printable ASCII, no space at either end.
    httpx raised UnicodeEncodeError for a non-ASCII token, and a newline in one came back as
    a CONNECTION_ERROR. The value itself is not repeated: it may be a secret."""
    if not (value.isascii() and value.isprintable()) or value != value.strip():
        raise ClientError(
            "BAD_USER_INPUT",
            f"the {name} cannot be sent as an HTTP header: printable ASCII only, "
            "no space at either end",
        )
    return value


def s3_error(response: httpx.Response) -> ClientError:
    """An S3 error answer (XML `<Code>` and `<Message>`) as a `ClientError`."""
    text = response.text

    def element(name: str) -> str:
        start, end = text.find(f"<{name}>"), text.find(f"</{name}>")
        return text[start + len(name) + 2 : end] if 0 <= start < end else ""

    code = element("Code") or f"HTTP_{response.status_code}"
    return ClientError(code, element("Message") or text[:500] or response.reason_phrase)


def read_exactly(stream: IO[bytes], size: int) -> Iterator[bytes]:
    """`stream` in pieces, `size` bytes in all, or `ClientError` FILE_CHANGED if it has more
    or fewer: a file written to (or cut) after its size was taken failed the PUT with h11's
    "Too much (little) data for declared Content-Length" traceback. The last piece is held
    back until the stream is known to end there: once the declared bytes are sent, S3 stores
    them, and an upload of the first `size` bytes of a longer file would be imported as if
    whole."""
    held = b""
    left = size
    while left:
        piece = stream.read(min(CHUNK_SIZE, left))
        if not piece:
            raise file_changed(size, "fewer")
        if held:
            yield held
        held = piece
        left -= len(piece)
    if stream.read(1):
        raise file_changed(size, "more")
    if held:
        yield held


def file_changed(size: int, now: str) -> ClientError:
    return ClientError(
        "FILE_CHANGED",
        f"the file changed while it was being uploaded ({size} bytes when the upload started, "
        f"{now} now): import it again once nothing writes to it",
    )


class Client:
    """GraphQL over HTTP with a token, plus the pre-signed S3 URLs the server hands out."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        api_version: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.api_version = api_version
        self.timeout = timeout
        self.http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def timeout_until(self, deadline: float | None) -> float:
        """Seconds one request may wait before `deadline` (a `time.monotonic()`; None: no
        deadline): the client's timeout, or what is left until the deadline if that is less
        (SHORTEST_TIMEOUT at least)."""
        if deadline is None:
            return self.timeout
        left = deadline - time.monotonic()
        return min(self.timeout, max(SHORTEST_TIMEOUT, left))

    def headers(self, token: str | None = None, api_version: str | None = None) -> dict[str, str]:
        sent: dict[str, str] = {}
        if token or self.token:
            sent["Authorization"] = header_value("token", str(token or self.token))
        if api_version or self.api_version:
            sent["API-Version"] = header_value("API version", str(api_version or self.api_version))
        return sent

    def graphql(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        api_version: str | None = None,
    ) -> dict[str, Any]:
        """POST /graphql and return the JSON body as it is (`data` and/or `errors`), whatever
        the HTTP status (401, 429 and 400 answers carry GraphQL errors too)."""
        return self._post(query, variables, token, api_version)[1]

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        api_version: str | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """Run a query that must succeed: its `data`, or `GraphQLError`. With a `deadline`
        (a `time.monotonic()`) the request waits no longer than until then."""
        status_code, body = self._post(query, variables, token, api_version, deadline)
        return raise_for_errors(body, status_code)

    def _post(
        self,
        query: str,
        variables: Mapping[str, Any] | None,
        token: str | None,
        api_version: str | None,
        deadline: float | None = None,
    ) -> tuple[int, dict[str, Any]]:
        with translate_errors(), refuse_undecodable():
            response = self.http.post(
                "/graphql",
                json={"query": query, "variables": dict(variables or {})},
                headers=self.headers(token, api_version),
                timeout=self.timeout_until(deadline),
            )
        try:
            return response.status_code, graphql_answer(response)
        except ClientError as exc:
            if response.status_code != 404:
                raise
            # most often a URL given with its /graphql, which the client adds
            raise ClientError(
                "HTTP_404",
                f"{response.request.url} was not found: give the server's base URL, such as "
                f"{DEFAULT_URL}, not its GraphQL endpoint",
            ) from exc

    def call_admin(self, method: str, path: str, admin_token: str, json: Any = None) -> Any:
        """Call the admin API (CONTRACT §5); its JSON answer, or `ClientError` on a non-2xx."""
        with translate_errors():
            response = self.http.request(
                method, path, json=json, headers={"X-Admin-Token": admin_token}
            )
        if not response.is_success:
            raise ClientError(
                f"HTTP_{response.status_code}", f"{method} {path}: {response.text[:500]}"
            )
        return response.json() if response.content else None

    def put_file(self, url: str, content: bytes | IO[bytes], size: int | None = None) -> None:
        """PUT a CSV to a pre-signed URL with `Content-Type: text/csv` and nothing else (an
        unsigned `x-amz-*` header would be refused)."""
        headers = {"Content-Type": "text/csv"}
        body: bytes | IO[bytes] | Iterator[bytes] = content
        if size is not None:  # a stream is sent with its length, not chunked: S3 wants that
            headers["Content-Length"] = str(size)
            if not isinstance(content, bytes):
                body = read_exactly(content, size)
        with translate_errors():
            response = self.http.put(url, content=body, headers=headers)
        if response.status_code != 200:
            raise s3_error(response)

    def download(self, url: str) -> bytes:
        """GET a pre-signed URL."""
        with translate_errors():
            response = self.http.get(url)
        if response.status_code != 200:
            raise s3_error(response)
        return response.content

    def download_to(self, url: str, out: IO[bytes]) -> int:
        """Stream a pre-signed URL into `out`; return the number of bytes written."""
        written = 0
        with translate_errors(), self.http.stream("GET", url) as response:
            if response.status_code != 200:
                response.read()
                raise s3_error(response)
            for chunk in response.iter_bytes(CHUNK_SIZE):
                out.write(chunk)
                written += len(chunk)
        return written
