"""The server's only access to S3: uploads, downloads and pre-signed URLs for one bucket.

Operations go through one long-lived aioboto3 client. Pre-signed URLs are signed here, not by
botocore, because they must carry the server's clock (`now`): the admin API moves that clock
forward to expire upload URLs, and a URL minted after such a move must still be valid for its
full lifetime. The SigV4 query-signing functions below are also what the embedded S3 endpoint
(`server.embedded_s3`) uses to check signatures, so signer and checker cannot drift apart.

Every botocore/aiohttp failure leaves this module as `errors.StorageError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

import aioboto3
import aiohttp
import botocore.config
import botocore.exceptions

from server import errors

logger = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_EXPIRES_IN = 7 * 24 * 3600  # seconds; S3 refuses longer-lived pre-signed URLs
PING_TIMEOUT = 2.0  # seconds; /healthz must answer quickly when S3 is down
DELETE_BATCH = 1000  # keys; the DeleteObjects limit

# Newer botocore adds CRC32 checksums to every request; "when_required" keeps requests plain
# so MinIO and moto accept them, as the pre-signed URLs below are plain too.
CLIENT_CONFIG = botocore.config.Config(
    signature_version="s3v4",
    s3={"addressing_style": "path"},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    connect_timeout=5,
    read_timeout=60,
    retries={"max_attempts": 3, "mode": "standard"},
)
# Reports can be large: put_file uploads files above one part as a multipart upload.
PART_SIZE = 16 << 20  # bytes; S3 allows 5 MiB to 5 GiB and at most 10,000 parts

# S3 refusing a write for lack of space: MinIO's XMinioStorageFull (HTTP 507, Insufficient
# Storage). AWS S3 has no such answer; its 500 InternalError and 503 SlowDown stay outages.
_FULL_CODES = frozenset({"XMinioStorageFull"})
_FULL_STATUS = 507
# HEAD requests carry no error body: a missing object or bucket is just "404".
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
_STORAGE_EXCEPTIONS = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)


class Storage:
    """One bucket of an S3-compatible service (S3, MinIO or the embedded endpoint)."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        public_endpoint_url: str | None,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.bucket = bucket
        self._endpoint_url = endpoint_url
        # Clients may reach S3 by another host name than the server does (docker).
        self._public_endpoint_url = public_endpoint_url or endpoint_url
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._now = now
        self._session = aioboto3.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
        )
        self._exit_stack = contextlib.AsyncExitStack()
        # aioboto3 ships no type information: the client is Any at this boundary.
        self._client: Any = None

    async def start(self) -> None:
        """Open the S3 client and create the bucket if it is missing."""
        self._client = await self._exit_stack.enter_async_context(
            self._session.client("s3", endpoint_url=self._endpoint_url, config=CLIENT_CONFIG)
        )
        try:
            await self._create_bucket()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await self._exit_stack.aclose()
        self._client = None

    async def ping(self) -> bool:
        """Return whether S3 answers for the bucket (for /healthz)."""
        try:
            await asyncio.wait_for(self._s3.head_bucket(Bucket=self.bucket), PING_TIMEOUT)
        except _STORAGE_EXCEPTIONS:
            return False
        return True

    async def presign_put(
        self, key: str, *, expires_in: int, content_type: str | None = None
    ) -> str:
        """Return a pre-signed PUT URL for `key`, valid `expires_in` seconds.

        Content-Type is not signed by default: the monday docs tell clients to send
        `text/csv`, but clients that add `; charset=utf-8` (or send nothing) must not get
        SignatureDoesNotMatch. Pass `content_type` to require exactly that header.
        """
        headers = {} if content_type is None else {"content-type": content_type}
        return self._presign("PUT", key, expires_in=expires_in, headers=headers)

    async def presign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """Return a pre-signed GET URL; `filename` makes browsers download under that name."""
        params = {}
        if filename is not None:
            params["response-content-disposition"] = content_disposition(filename)
        return self._presign("GET", key, expires_in=expires_in, params=params)

    async def head(self, key: str) -> int | None:
        """Return the object's size in bytes, or None when there is no such object."""
        with _map_storage_errors("head", key):
            try:
                response = await self._s3.head_object(Bucket=self.bucket, Key=key)
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) in _MISSING_CODES:
                    return None
                raise
        return int(response["ContentLength"])

    async def read_chunks(self, key: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """Stream the object in pieces of at most `chunk_size` bytes."""
        with _map_storage_errors("read", key):
            response = await self._s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            try:
                async for chunk in body.iter_chunks(chunk_size):
                    yield chunk
            finally:
                body.close()

    async def put_bytes(self, key: str, data: bytes, content_type: str = "text/csv") -> None:
        with _map_storage_errors("put", key):
            await self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )

    async def put_file(self, key: str, path: str, content_type: str = "text/csv") -> None:
        """Upload a local file, in parts of PART_SIZE when it is larger than that."""
        # Not aioboto3's upload_file: it reads the file on the event loop and hands aiohttp
        # bytearray parts, which aiohttp warns would block the loop.
        size = await asyncio.to_thread(os.path.getsize, path)
        if size <= PART_SIZE:
            await self.put_bytes(key, await asyncio.to_thread(_read_part, path, 0), content_type)
            return
        with _map_storage_errors("put", key):
            upload = await self._s3.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )
            ids = {"Bucket": self.bucket, "Key": key, "UploadId": upload["UploadId"]}
            try:
                parts = []
                for number, offset in enumerate(range(0, size, PART_SIZE), start=1):
                    data = await asyncio.to_thread(_read_part, path, offset)
                    part = await self._s3.upload_part(**ids, PartNumber=number, Body=data)
                    parts.append({"ETag": part["ETag"], "PartNumber": number})
                await self._s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
            except BaseException:
                # Parts of an abandoned upload cost storage until aborted.
                with contextlib.suppress(*_STORAGE_EXCEPTIONS):
                    await self._s3.abort_multipart_upload(**ids)
                raise

    async def delete(self, key: str) -> None:
        """Delete one object; a missing one is no error (as S3 answers)."""
        with _map_storage_errors("delete", key):
            await self._s3.delete_object(Bucket=self.bucket, Key=key)

    async def delete_all(self) -> None:
        """Delete every object and unfinished multipart upload in the bucket."""
        with _map_storage_errors("delete", "*"):
            paginator = self._s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                for start in range(0, len(keys), DELETE_BATCH):
                    await self._s3.delete_objects(
                        Bucket=self.bucket,
                        Delete={"Objects": keys[start : start + DELETE_BATCH], "Quiet": True},
                    )
            uploads = await self._s3.list_multipart_uploads(Bucket=self.bucket)
            for upload in uploads.get("Uploads", []):
                await self._s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )

    @property
    def _s3(self) -> Any:
        if self._client is None:
            raise RuntimeError("Storage.start() was not called")
        return self._client

    async def _create_bucket(self) -> None:
        with _map_storage_errors("create bucket", self.bucket):
            try:
                await self._s3.head_bucket(Bucket=self.bucket)
                return
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) not in _MISSING_CODES:
                    raise
            # us-east-1 is S3's default and refuses an explicit LocationConstraint.
            location = (
                {}
                if self._region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": self._region}}
            )
            try:
                await self._s3.create_bucket(Bucket=self.bucket, **location)
            except botocore.exceptions.ClientError as exc:
                # Another server process sharing the bucket may have won the race.
                if _error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
        logger.info("created bucket", extra={"bucket": self.bucket, "action": "create_bucket"})

    def _presign(
        self,
        method: str,
        key: str,
        *,
        expires_in: int,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        return presign_url(
            method=method,
            endpoint_url=self._public_endpoint_url,
            bucket=self.bucket,
            key=key,
            access_key=self._access_key,
            secret_key=self._secret_key,
            region=self._region,
            expires_in=expires_in,
            now=self._now(),
            params=params,
            headers=headers,
        )


@contextlib.contextmanager
def _map_storage_errors(action: str, key: str) -> Iterator[None]:
    """Translate botocore/aiohttp exceptions into `errors.StorageError`."""
    try:
        yield
    except _STORAGE_EXCEPTIONS as exc:
        code = _error_code(exc) or type(exc).__name__
        if _is_full(exc):
            raise errors.StorageFull(
                f"S3 answered {code} to a {action}", error_data={"key": key}
            ) from exc
        raise errors.StorageError(
            f"Storage {action} failed ({code})", error_data={"key": key}
        ) from exc


def _is_full(exc: BaseException) -> bool:
    """Whether S3 refused the request for lack of space."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return _error_code(exc) in _FULL_CODES or status == _FULL_STATUS


def _read_part(path: str, offset: int) -> bytes:
    with open(path, "rb") as file:
        file.seek(offset)
        return file.read(PART_SIZE)


def _error_code(exc: BaseException | None) -> str | None:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def content_disposition(filename: str) -> str:
    """Return an `attachment` Content-Disposition value for `filename` (RFC 6266)."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    fallback = fallback.replace("\\", "_").replace('"', "_")
    value = f'attachment; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"
    return value


# SigV4 query signing, shared by `Storage` (signing) and `server.embedded_s3` (checking).
# https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html


def presign_url(
    *,
    method: str,
    endpoint_url: str,
    bucket: str,
    key: str,
    access_key: str,
    secret_key: str,
    region: str,
    expires_in: int,
    now: float,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> str:
    """Return a path-style SigV4 pre-signed URL for one request on `bucket`/`key`.

    `headers` (lower-case names) are signed besides `host`: the client must send them as given.
    """
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")
    parts = urllib.parse.urlsplit(endpoint_url)
    path = f"{parts.path.rstrip('/')}/{bucket}/{key}"
    amz_date = time.strftime(AMZ_DATE_FORMAT, time.gmtime(now))
    scope = credential_scope(amz_date[:8], region)
    signed_headers = {"host": host_header(parts), **(headers or {})}
    query = [
        *(params or {}).items(),
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{access_key}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires_in)),
        ("X-Amz-SignedHeaders", ";".join(sorted(signed_headers))),
    ]
    request = canonical_request(
        method=method, path=path.encode(), query=query, headers=signed_headers
    )
    signed = signature(secret_key=secret_key, scope=scope, amz_date=amz_date, request=request)
    query_string = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query)
    url_path = urllib.parse.quote(path.encode(), safe="/~")
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, url_path, f"{query_string}&X-Amz-Signature={signed}", "")
    )


def credential_scope(date: str, region: str) -> str:
    return f"{date}/{region}/s3/aws4_request"


def host_header(parts: urllib.parse.SplitResult) -> str:
    """Return the Host header a client sends for a URL: default ports are left out."""
    netloc = parts.netloc.rpartition("@")[2]
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port == default_port:
        netloc = netloc.rpartition(":")[0]
    return netloc


def canonical_request(
    *,
    method: str,
    path: bytes,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    payload_hash: str = UNSIGNED_PAYLOAD,
) -> str:
    """Return the SigV4 canonical request of an S3 request.

    `path` is the decoded path; `query` the decoded parameters without X-Amz-Signature;
    `headers` the signed headers by lower-case name; `payload_hash` what a header-signed
    request gives as its `x-amz-content-sha256` (pre-signed URLs leave the payload unsigned).
    """
    canonical_query = "&".join(
        f"{k}={v}" for k, v in sorted((_quote(k), _quote(v)) for k, v in query)
    )
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names)
    return "\n".join(
        [
            method,
            urllib.parse.quote(path, safe="/~"),
            canonical_query,
            canonical_headers,
            ";".join(names),
            payload_hash,
        ]
    )


def string_to_sign(*, amz_date: str, scope: str, request: str) -> str:
    digest = hashlib.sha256(request.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signature(*, secret_key: str, scope: str, amz_date: str, request: str) -> str:
    """Return the hex SigV4 signature of a canonical request for a credential scope."""
    key = f"AWS4{secret_key}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    message = string_to_sign(amz_date=amz_date, scope=scope, request=request)
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")
