"""The embedded S3-compatible endpoint, started when `S3_ENDPOINT_URL` is unset.

moto's server speaks the S3 API but accepts any pre-signed URL, so its WSGI app is wrapped in
`SignatureCheck`, which refuses pre-signed requests the way S3 and MinIO do (expired, dated ahead
beyond the clock skew, unknown access key, wrong signature, unsigned `x-amz-*` headers) and
refuses anonymous requests.
Header-signed requests (aioboto3's) pass straight to moto. Expiry (and a date ahead) is judged
with the server's clock, the same one `storage.Storage` signs URLs with, so the admin API can
expire them.

moto keeps every object in memory, so `EmbeddedS3` runs it in a child process of its own, as
MinIO runs apart from the server: a large upload grows that process, not the server's. Each
`EmbeddedS3` has its own process and so its own buckets.

moto never runs out of space. `refuses_write` lets its owner refuse a write as MinIO refuses it
when its drives are full (HTTP 507 `XMinioStorageFull`): the server's `s3_write` fault.
"""

from __future__ import annotations

import calendar
import contextlib
import ctypes
import dataclasses
import hmac
import logging
import multiprocessing
import multiprocessing.connection
import re
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import werkzeug.serving
import werkzeug.wsgi

from server import storage

logger = logging.getLogger(__name__)

DRAIN_LIMIT = 64 << 20  # bytes of a refused request body read before answering
_DRAIN_CHUNK = 64 << 10  # bytes
START_TIMEOUT = 60.0  # seconds for the child process to import moto and bind its port
STOP_TIMEOUT = 5.0  # seconds the child gets to exit on its own before it is terminated
# The query parameters of SigV4 query authentication; `x-id` is botocore's operation hint.
_AUTH_PARAMS = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "x-id",
    }
)
# moto ignores the `response-*` parameters a signed GET uses to override response headers.
_RESPONSE_OVERRIDES = {
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
    "response-content-language": "Content-Language",
    "response-content-type": "Content-Type",
    "response-expires": "Expires",
}
_REQUIRED_PARAMS = (
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
_MISSING_PARAMS_MESSAGE = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# MinIO's answer to a write once its drives reach their minimum free space (AWS S3 itself has
# no such answer: its 500 InternalError or 503 SlowDown say nothing of space)
STORAGE_FULL_STATUS = 507
STORAGE_FULL_CODE = "XMinioStorageFull"
STORAGE_FULL_MESSAGE = (
    "Storage backend has reached its minimum free drive threshold. "
    "Please delete a few objects to proceed."
)
# how far ahead of ours a signer's clock may run: a pre-signed request dated later is refused
# as "not yet valid", as S3 and MinIO refuse it
MAX_CLOCK_SKEW = 15 * 60  # seconds
# a SigV4 Authorization header, as botocore, the AWS CLI and MinIO's clients write it
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)

# WSGI's types are loose (PEP 3333): environ values and start_response are Any here.
Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class EmbeddedS3:
    """moto's S3 behind `SignatureCheck`, served by werkzeug in a child process.

    The child judges expiry by `time.time() + clock_offset.value`, a double in shared memory
    that the owner moves (the server passes its `Clock.shared_offset`). It reports each object
    it stores over a pipe; a thread of this process calls `on_object_created` with it before
    the client gets its answer, as an in-process hook would. Before each write (an object or
    a part put, a multipart upload started) it asks `refuses_write` the same way: True refuses
    the write as a full MinIO does. The child exits when `stop()`
    closes its lifeline pipe, or when this process dies and the system closes it.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key: str,
        secret_key: str,
        region: str,
        clock_offset: ctypes.c_double | None = None,
        on_object_created: Callable[[str, str], None] | None = None,
        refuses_write: Callable[[str, str], bool] | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        if clock_offset is None:
            clock_offset = multiprocessing.RawValue(ctypes.c_double, 0.0)
        self.clock_offset = clock_offset
        self._on_object_created = on_object_created
        self._refuses_write = refuses_write
        self._bound_port: int | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._events: multiprocessing.connection.Connection | None = None
        self._lifeline: multiprocessing.connection.Connection | None = None
        self._relay: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("EmbeddedS3.start() was not called")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port}"

    @property
    def pid(self) -> int:
        """The id of the process serving the endpoint."""
        if self._process is None or self._process.pid is None:
            raise RuntimeError("EmbeddedS3.start() was not called")
        return self._process.pid

    def start(self) -> None:
        """Start the child process; return once its port is bound and answering."""
        # "spawn", not fork: the caller runs an event loop and threads a fork would copy mid-use.
        context = multiprocessing.get_context("spawn")
        events, child_events = context.Pipe()
        child_lifeline, lifeline = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve,
            kwargs={
                "host": self._host,
                "port": self._port,
                "access_key": self._access_key,
                "secret_key": self._secret_key,
                "region": self._region,
                "clock_offset": self.clock_offset,
                "events": child_events,
                "lifeline": child_lifeline,
                "report": self._on_object_created is not None,
                "ask": self._refuses_write is not None,
            },
            name="embedded-s3",
            daemon=True,
        )
        process.start()
        # Only the child may hold its ends: each side sees EOF when the other's end closes.
        child_events.close()
        child_lifeline.close()
        self._process, self._events, self._lifeline = process, events, lifeline
        try:
            self._bound_port = _receive_port(events, process)
        except BaseException:
            self.stop()
            raise
        if self._on_object_created is not None or self._refuses_write is not None:
            self._relay = threading.Thread(
                target=_relay_reports,
                args=(events, self._on_object_created, self._refuses_write),
                name="embedded-s3-reports",
                daemon=True,
            )
            self._relay.start()
        logger.info(
            "embedded S3 started",
            extra={"url": self.endpoint_url, "pid": process.pid, "action": "start"},
        )

    def stop(self) -> None:
        """Stop the child process and wait for it to exit."""
        if self._lifeline is not None:
            self._lifeline.close()
        if self._process is not None:
            self._process.join(STOP_TIMEOUT)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()
        # The relay ends at the EOF the child's exit caused.
        if self._relay is not None:
            self._relay.join()
        if self._events is not None:
            self._events.close()
        self._process = self._events = self._lifeline = self._relay = None
        self._bound_port = None


def _serve(
    *,
    host: str,
    port: int,
    access_key: str,
    secret_key: str,
    region: str,
    clock_offset: ctypes.c_double,
    events: multiprocessing.connection.Connection,
    lifeline: multiprocessing.connection.Connection,
    report: bool,
    ask: bool,
) -> None:
    """The child process: serve until the parent closes `lifeline` or dies."""
    # Imported here: the server process itself never needs moto.
    from moto.moto_server import werkzeug_app

    _stop_model_tracking()
    reporter = _Reporter(events)
    app = SignatureCheck(
        werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app),
        access_key=access_key,
        secret_key=secret_key,
        region=region,
        now=lambda: time.time() + clock_offset.value,
        on_object_created=reporter.report if report else None,
        refuses_write=reporter.refuses_write if ask else None,
    )
    # A port in use makes werkzeug print why and exit: the parent sees EOF instead of a port.
    server = werkzeug.serving.make_server(
        host, port, app, threaded=True, request_handler=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="embedded-s3", daemon=True).start()
    events.send(server.server_port)
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv()
    server.shutdown()


class _Untracked(list[Any]):
    """A list that keeps nothing appended to it."""

    def append(self, item: Any) -> None:
        pass


def _stop_model_tracking() -> None:
    """moto appends every model it creates to its class's `instances_tracked` list, for its
    dashboard, and never removes it: every object ever stored, overwritten or deleted stayed
    in memory with its bytes (objects over 8 MiB in a temporary file, its descriptor open),
    so the endpoint grew with each upload, report and export for as long as it ran."""
    import warnings

    from moto.core.model_instances import model_data
    from moto.s3 import models  # noqa: F401  (defines the S3 models, registered in model_data)

    for classes in model_data.values():
        for cls in classes.values():
            cls.instances_tracked = _Untracked()  # type: ignore[attr-defined]
    # a key no longer stored is now freed untracked, and moto warns that nothing disposed of it
    warnings.filterwarnings("ignore", "S3 key was not disposed of in time", ResourceWarning)


def _receive_port(
    events: multiprocessing.connection.Connection, process: multiprocessing.process.BaseProcess
) -> int:
    """Wait for the port the child bound, or for its failure."""
    if not events.poll(START_TIMEOUT):
        raise RuntimeError(f"embedded S3 did not start within {START_TIMEOUT:g} s")
    try:
        return int(events.recv())
    except EOFError:
        process.join(STOP_TIMEOUT)
        raise RuntimeError(
            f"embedded S3 exited with code {process.exitcode} before listening (see its stderr)"
        ) from None


_CREATED = "created"  # a report: (bucket, key) was stored; the answer is None
_WRITE = "write"  # a question: may (bucket, key) be written? The answer is whether it is refused


class _Reporter:
    """The child's end of `on_object_created` and `refuses_write`: send (kind, bucket, key),
    wait until the parent ran it, and take its answer."""

    def __init__(self, events: multiprocessing.connection.Connection) -> None:
        self._events = events
        # Requests run on several threads: each waits for its own acknowledgement.
        self._lock = threading.Lock()

    def _ask(self, kind: str, bucket: str, key: str) -> object:
        with self._lock:
            self._events.send((kind, bucket, key))
            return self._events.recv()

    def report(self, bucket: str, key: str) -> None:
        self._ask(_CREATED, bucket, key)

    def refuses_write(self, bucket: str, key: str) -> bool:
        try:
            return bool(self._ask(_WRITE, bucket, key))
        except (EOFError, OSError):  # the parent is gone: nothing to refuse for it
            return False


def _relay_reports(
    events: multiprocessing.connection.Connection,
    listener: Callable[[str, str], None] | None,
    refuses_write: Callable[[str, str], bool] | None,
) -> None:
    """The parent's end: call `listener` for each object the child reports, and
    `refuses_write` for each write it is about to make, until it exits."""
    while True:
        try:
            kind, bucket, key = events.recv()
        except (EOFError, OSError):
            return
        answer: bool | None = None
        if kind == _CREATED and listener is not None:
            _notify(listener, bucket, key)
        elif kind == _WRITE and refuses_write is not None:
            answer = _refuses(refuses_write, bucket, key)
        try:
            events.send(answer)
        except OSError:
            return


class SignatureCheck:
    """WSGI middleware: checks SigV4 query signatures in front of an S3 WSGI app."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        access_key: str,
        secret_key: str,
        region: str,
        now: Callable[[], float],
        on_object_created: Callable[[str, str], None] | None,
        refuses_write: Callable[[str, str], bool] | None = None,
    ) -> None:
        self._app = app
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._now = now
        self._on_object_created = on_object_created
        self._refuses_write = refuses_write

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        params = urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            # CORS preflights carry no credentials, on S3 as here.
            if method != "OPTIONS":
                self._authorize(environ, method, params)
            if method == "PUT" and not _has_length(environ):
                # as S3 and MinIO: without a length (or chunks) the body cannot be told from
                # none, and moto stored an empty object that the import then refused as empty
                raise S3Error(
                    411, "MissingContentLength", "You must provide the Content-Length HTTP header."
                )
            self._check_space(environ, method, params)
        except S3Error as exc:
            _drain(environ)
            return exc.respond(method, start_response)
        return self._forward(environ, start_response, method, params)

    def _check_space(self, environ: Environ, method: str, params: list[tuple[str, str]]) -> None:
        """Refuse a write as a MinIO whose drives are full, if the owner says so."""
        if self._refuses_write is None:
            return
        bucket, _, key = _request_path(environ)[1:].decode("utf-8", "replace").partition("/")
        if (
            key
            and _writes(method, {name for name, _ in params})
            and self._refuses_write(bucket, key)
        ):
            raise S3Error(
                STORAGE_FULL_STATUS,
                STORAGE_FULL_CODE,
                STORAGE_FULL_MESSAGE,
                Key=key,
                BucketName=bucket,
                Resource=f"/{bucket}/{key}",
            )

    def _authorize(self, environ: Environ, method: str, params: list[tuple[str, str]]) -> None:
        if any(name == "X-Amz-Algorithm" for name, _ in params):
            self._check_query_signature(environ, method, params)
        elif "HTTP_AUTHORIZATION" in environ:
            # moto checks no signature: any Authorization header read and wrote every object
            self._check_header_signature(environ, method, params)
        else:
            raise S3Error(403, "AccessDenied", "Access Denied")

    def _check_header_signature(
        self, environ: Environ, method: str, params: list[tuple[str, str]]
    ) -> None:
        """Check a SigV4 Authorization header (the server's own S3 client, SDKs, the CLI).
        The request time is not checked: the server's client signs by the real clock, which
        the admin API's clock may be far from."""
        match = _AUTHORIZATION.fullmatch(str(environ["HTTP_AUTHORIZATION"]).strip())
        if match is None:
            raise S3Error(
                400,
                "AuthorizationHeaderMalformed",
                "The authorization header is malformed; expecting "
                '"AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".',
            )
        access_key, scope = _parse_credential(match["credential"])
        if access_key != self._access_key:
            raise _invalid_access_key(access_key)
        headers = _request_headers(environ)
        signed_headers = match["signed_headers"].lower().split(";")
        request = storage.canonical_request(
            method=method,
            path=_request_path(environ),
            query=params,
            headers={name: headers.get(name, "") for name in signed_headers},
            payload_hash=headers.get("x-amz-content-sha256", storage.UNSIGNED_PAYLOAD),
        )
        amz_date = headers.get("x-amz-date", "")
        expected = storage.signature(
            secret_key=self._secret_key, scope=scope, amz_date=amz_date, request=request
        )
        if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
            raise _signature_mismatch(
                access_key, amz_date, scope, request, provided=match["signature"]
            )

    def _check_query_signature(
        self, environ: Environ, method: str, params: list[tuple[str, str]]
    ) -> None:
        """Check a pre-signed request: its time, access key, signed headers and signature."""
        auth = _parse_query_auth(dict(params), region=self._region)
        _check_query_time(auth, self._now())
        if auth.access_key != self._access_key:
            raise _invalid_access_key(auth.access_key)
        headers = _request_headers(environ)
        _check_headers_signed(headers, auth.signed_headers)
        request = storage.canonical_request(
            method=method,
            path=_request_path(environ),
            query=[(name, value) for name, value in params if name != "X-Amz-Signature"],
            headers={name: headers.get(name, "") for name in auth.signed_headers},
        )
        expected = storage.signature(
            secret_key=self._secret_key, scope=auth.scope, amz_date=auth.amz_date, request=request
        )
        if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
            raise _signature_mismatch(
                auth.access_key, auth.amz_date, auth.scope, request, provided=auth.signature
            )

    def _forward(
        self,
        environ: Environ,
        start_response: StartResponse,
        method: str,
        params: list[tuple[str, str]],
    ) -> Iterable[bytes]:
        statuses: list[str] = []
        overrides = {
            header: value
            for name, value in params
            if method in {"GET", "HEAD"} and (header := _RESPONSE_OVERRIDES.get(name))
        }

        def record_status(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)
            if overrides and status.startswith("2"):
                headers = _override_headers(headers, overrides)
            return start_response(status, headers, exc_info)

        if overrides:
            # applied here; moto answers a missing key asked for with them by
            # SignatureDoesNotMatch instead of S3's NoSuchKey
            environ["QUERY_STRING"] = urllib.parse.urlencode(
                [(name, value) for name, value in params if name not in _RESPONSE_OVERRIDES]
            )
        # Our URLs are path-style, but moto reads a dotted Host (a public name such as
        # s3.example.com:9000) as a virtual-hosted bucket: it must see a plain local name.
        environ["HTTP_HOST"] = "localhost"
        # moto has stored the object once its app returns: the response is already built.
        body = self._app(environ, record_status)
        if self._on_object_created is not None and statuses and statuses[-1].startswith("2"):
            bucket, _, key = _request_path(environ)[1:].decode("utf-8", "replace").partition("/")
            if key and _creates_object(method, {name for name, _ in params}):
                _notify(self._on_object_created, bucket, key)
        return body


def _refuses(refuses_write: Callable[[str, str], bool], bucket: str, key: str) -> bool:
    try:
        return refuses_write(bucket, key)
    except Exception:
        # a failing hook must not fail the write: refuse nothing
        logger.exception("refuses_write failed", extra={"key": key, "action": "refuses_write"})
        return False


def _notify(listener: Callable[[str, str], None], bucket: str, key: str) -> None:
    try:
        listener(bucket, key)
    except Exception:
        # The object is stored: a failing listener must not fail the client's upload.
        logger.exception("on_object_created failed", extra={"key": key, "action": "object_created"})


class S3Error(Exception):
    """An S3 error response: status, `Code`, `Message` and extra XML elements."""

    def __init__(self, status: int, code: str, message: str, **fields: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def respond(self, method: str, start_response: StartResponse) -> list[bytes]:
        request_id = uuid.uuid4().hex[:16].upper()
        root = ET.Element("Error")
        elements = {"Code": self.code, "Message": self.message, **self.fields}
        for name, text in {**elements, "RequestId": request_id}.items():
            ET.SubElement(root, name).text = text
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
        reason = {
            400: "Bad Request",
            403: "Forbidden",
            411: "Length Required",
            507: "Insufficient Storage",
        }.get(self.status, "Error")
        start_response(
            f"{self.status} {reason}",
            [
                ("Content-Type", "application/xml"),
                ("Content-Length", str(len(body))),
                ("x-amz-request-id", request_id),
            ],
        )
        # A HEAD response has no body, but keeps the length of the one a GET would get.
        return [] if method == "HEAD" else [body]


class _QuietHandler(werkzeug.serving.WSGIRequestHandler):
    # werkzeug logs every request at INFO and installs its own stream handler for that.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s %s", self.command, self.path, code)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _QueryAuth:
    """The X-Amz-* parameters of a pre-signed request, parsed."""

    access_key: str
    scope: str  # date/region/s3/aws4_request
    amz_date: str
    signed_at: float  # epoch seconds
    expires: int  # seconds
    signed_headers: list[str]  # lower-case names
    signature: str


def _parse_query_auth(auth: Mapping[str, str], *, region: str) -> _QueryAuth:
    """Parse the query's X-Amz-* parameters, refusing malformed ones as S3 does (400)."""
    if auth["X-Amz-Algorithm"] != storage.ALGORITHM:
        raise _query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if any(name not in auth for name in _REQUIRED_PARAMS):
        raise _query_error(_MISSING_PARAMS_MESSAGE)
    access_key, scope = _parse_credential(auth["X-Amz-Credential"])
    _, scope_region, service, _ = scope.split("/")
    if scope_region != region:
        raise _query_error(
            "Error parsing the X-Amz-Credential parameter; "
            f"the region '{scope_region}' is wrong; expecting '{region}'",
            Region=region,
        )
    if service != "s3":
        raise _query_error(
            "Error parsing the X-Amz-Credential parameter; "
            f"incorrect service '{service}'. This endpoint belongs to 's3'."
        )
    return _QueryAuth(
        access_key=access_key,
        scope=scope,
        amz_date=auth["X-Amz-Date"],
        signed_at=_parse_amz_date(auth["X-Amz-Date"]),
        expires=_parse_expires(auth["X-Amz-Expires"]),
        signed_headers=auth["X-Amz-SignedHeaders"].lower().split(";"),
        signature=auth["X-Amz-Signature"],
    )


def _check_query_time(auth: _QueryAuth, now: float) -> None:
    """Refuse a pre-signed request dated ahead of our clock, or expired, as S3 does."""
    if auth.signed_at > now + MAX_CLOCK_SKEW:
        raise S3Error(
            403,
            "AccessDenied",
            "Request is not yet valid",
            **{
                # S3 writes this one in epoch milliseconds, the others in ISO 8601
                "X-Amz-Date": str(round(auth.signed_at * 1000)),
                "Expires": _iso(auth.signed_at + auth.expires),
                "ServerTime": _iso(now),
            },
        )
    if auth.signed_at + auth.expires < now:
        raise S3Error(
            403,
            "AccessDenied",
            "Request has expired",
            **{
                "X-Amz-Expires": str(auth.expires),
                "Expires": _iso(auth.signed_at + auth.expires),
                "ServerTime": _iso(now),
            },
        )


def _check_headers_signed(headers: Mapping[str, str], signed_headers: list[str]) -> None:
    """Refuse a pre-signed request that brings x-amz-* headers its signature does not cover."""
    unsigned = sorted(
        name for name in headers if name.startswith("x-amz-") and name not in signed_headers
    )
    if unsigned:
        raise S3Error(
            403,
            "AccessDenied",
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )


def _invalid_access_key(access_key: str) -> S3Error:
    return S3Error(
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        AWSAccessKeyId=access_key,
    )


def _signature_mismatch(
    access_key: str, amz_date: str, scope: str, request: str, *, provided: str
) -> S3Error:
    return S3Error(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you "
        "provided. Check your key and signing method.",
        AWSAccessKeyId=access_key,
        StringToSign=storage.string_to_sign(amz_date=amz_date, scope=scope, request=request),
        SignatureProvided=provided,
        CanonicalRequest=request,
    )


def _query_error(message: str, **fields: str) -> S3Error:
    return S3Error(400, "AuthorizationQueryParametersError", message, **fields)


def _parse_credential(credential: str) -> tuple[str, str]:
    """Split `AKID/20240101/us-east-1/s3/aws4_request` into access key and scope."""
    access_key, _, scope = credential.partition("/")
    parts = scope.split("/")
    if len(parts) != 4 or parts[3] != "aws4_request" or len(parts[0]) != 8:
        raise _query_error(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    return access_key, scope


def _parse_amz_date(value: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(value, storage.AMZ_DATE_FORMAT)))
    except ValueError:
        raise _query_error(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        ) from None


def _parse_expires(value: str) -> int:
    try:
        expires = int(value)
    except ValueError:
        raise _query_error("X-Amz-Expires should be a number") from None
    if expires < 0:
        raise _query_error("X-Amz-Expires must be non-negative")
    if expires > storage.MAX_EXPIRES_IN:
        raise _query_error(
            f"X-Amz-Expires must be less than a week (in seconds) that is {storage.MAX_EXPIRES_IN}"
        )
    return expires


def _request_path(environ: Environ) -> bytes:
    # PEP 3333: PATH_INFO holds the percent-decoded bytes as latin-1 text.
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return str(path).encode("latin-1")


def _request_headers(environ: Environ) -> Mapping[str, str]:
    """Return the request's headers by lower-case name; `host` is the Host the client sent."""
    headers = {
        name[5:].lower().replace("_", "-"): str(value)
        for name, value in environ.items()
        if name.startswith("HTTP_")
    }
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.lower().replace("_", "-")] = str(environ[name])
    return headers


def _override_headers(
    headers: list[tuple[str, str]], overrides: Mapping[str, str]
) -> list[tuple[str, str]]:
    lowered = {name.lower() for name in overrides}
    kept = [(name, value) for name, value in headers if name.lower() not in lowered]
    # WSGI header values must be latin-1 text.
    return kept + [
        (name, value.encode("latin-1", "replace").decode("latin-1"))
        for name, value in overrides.items()
    ]


def _creates_object(method: str, param_names: set[str]) -> bool:
    """Whether a successful request on a key stored an object (not a part or sub-resource)."""
    if method == "PUT":
        # PutObject, CopyObject; `?partNumber`, `?tagging`, `?acl`... change no object body.
        return param_names <= _AUTH_PARAMS
    # CompleteMultipartUpload is the POST with `?uploadId`.
    return method == "POST" and "uploadId" in param_names


def _writes(method: str, param_names: set[str]) -> bool:
    """Whether a request on a key takes space: an object or a part put (or copied), or a
    multipart upload started. Completing one, tagging or deleting is let through."""
    if method == "PUT":
        return "tagging" not in param_names and "acl" not in param_names
    return method == "POST" and "uploads" in param_names


def _has_length(environ: Environ) -> bool:
    """Whether a request says how long its body is: Content-Length, or chunked encoding."""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return bool(environ.get("CONTENT_LENGTH")) or chunked


def _drain(environ: Environ) -> None:
    """Read a refused request's body so the client can read our answer."""
    stream = werkzeug.wsgi.get_input_stream(environ)
    remaining = DRAIN_LIMIT
    while remaining > 0 and (chunk := stream.read(min(_DRAIN_CHUNK, remaining))):
        remaining -= len(chunk)


def _iso(timestamp: float) -> str:
    return time.strftime(_ISO_FORMAT, time.gmtime(timestamp))
