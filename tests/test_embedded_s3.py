"""The embedded S3 endpoint checks pre-signed URLs as S3 and MinIO do, in a process of its own."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import boto3
import botocore.exceptions
import httpx
import psutil
import pytest

from server import clock, embedded_s3, storage
from tests.conftest import Api, ServerProcess
from tests.importing import start_job

ACCESS_KEY = "embedded-access-key"
SECRET_KEY = "embedded-secret-key"
REGION: Final = "eu-west-1"
BUCKET = "embedded-s3-tests"
CSV = b"name,email\nAda,ada@example.com\n"
ROOT = Path(__file__).resolve().parent.parent
EXIT_TIMEOUT = 10.0  # seconds for an orphaned endpoint process to notice and exit
# A parent process that starts an endpoint, prints the endpoint's pid, and waits to be killed.
PARENT_SCRIPT = f"""
import time
from server import embedded_s3
s3 = embedded_s3.EmbeddedS3(access_key="{ACCESS_KEY}", secret_key="{SECRET_KEY}", region="{REGION}")
s3.start()
print(s3.pid, flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def server_clock() -> clock.Clock:
    """The server's clock, whose offset the endpoint's process reads from shared memory."""
    return clock.Clock()


@pytest.fixture(scope="module")
def created() -> list[tuple[str, str]]:
    return []


@pytest.fixture(scope="module")
def s3(
    server_clock: clock.Clock, created: list[tuple[str, str]]
) -> Iterator[embedded_s3.EmbeddedS3]:
    def record(bucket: str, key: str) -> None:
        created.append((bucket, key))
        if key.startswith("explode/"):
            raise RuntimeError("listener failure")

    server = embedded_s3.EmbeddedS3(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        clock_offset=server_clock.shared_offset,
        on_object_created=record,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(s3: embedded_s3.EmbeddedS3) -> Any:
    """A botocore client, the reference signer the checks must agree with."""
    return client_with_bucket(s3)


def client_with_bucket(s3: embedded_s3.EmbeddedS3) -> Any:
    """A client with the right keys, and the bucket the tests use created."""
    s3_client = client_with(s3, ACCESS_KEY, SECRET_KEY)
    s3_client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3_client


@pytest.fixture
def advance_clock(server_clock: clock.Clock) -> Iterator[clock.Clock]:
    yield server_clock
    server_clock.offset_seconds = 0.0


def presign(s3: embedded_s3.EmbeddedS3, method: str, key: str, **kwargs: Any) -> str:
    return storage.presign_url(
        method=method,
        endpoint_url=s3.endpoint_url,
        bucket=BUCKET,
        key=key,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        expires_in=600,
        now=time.time(),
        **kwargs,
    )


def replace_param(url: str, name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query))
    params[name] = value
    return parts._replace(query=urllib.parse.urlencode(params)).geturl()


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/xml"
    assert response.text.startswith("<?xml")
    start = response.text.index("<Code>") + len("<Code>")
    return response.text[start : response.text.index("</Code>")]


def test_presigned_put_with_only_content_type_stores_the_object(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    url = presign(s3, "PUT", "uploads/plain.csv")

    response = httpx.put(url, content=CSV, headers={"Content-Type": "text/csv"})

    assert response.status_code == 200
    assert response.headers["etag"]
    stored = client.get_object(Bucket=BUCKET, Key="uploads/plain.csv")
    assert stored["Body"].read() == CSV


def raw_put(url: str, headers: str, body: bytes) -> bytes:
    """A PUT written by hand, for framings httpx does not send; the whole answer."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n{headers}"
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_put_without_a_length_is_refused_as_s3_does(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    url = presign(s3, "PUT", "uploads/unsized.csv")

    answer = raw_put(url, "Content-Type: text/csv\r\n", CSV)

    assert answer.startswith(b"HTTP/1.1 411 Length Required"), answer
    assert b"<Code>MissingContentLength</Code>" in answer
    assert "Contents" not in client.list_objects_v2(Bucket=BUCKET, Prefix="uploads/unsized")


def test_put_of_chunks_or_of_an_empty_body_with_its_length_is_stored(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    chunked = raw_put(
        presign(s3, "PUT", "uploads/chunked.csv"),
        "Transfer-Encoding: chunked\r\n",
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(CSV), CSV),
    )
    empty = raw_put(presign(s3, "PUT", "uploads/empty.csv"), "Content-Length: 0\r\n", b"")

    assert chunked.startswith(b"HTTP/1.1 200 "), chunked
    assert empty.startswith(b"HTTP/1.1 200 "), empty
    assert client.get_object(Bucket=BUCKET, Key="uploads/chunked.csv")["Body"].read() == CSV
    assert client.get_object(Bucket=BUCKET, Key="uploads/empty.csv")["Body"].read() == b""


@pytest.mark.parametrize(
    "key",
    [
        "plain.csv",
        "with space.csv",
        "ünïcødé/naïve 名前.csv",
        "a/b/c+d=e&f.csv",
        "odd ~!'()*$,;:@.csv",
    ],
)
@pytest.mark.parametrize("content_type", [None, "text/csv"])
def test_signature_check_accepts_botocore_urls_for_put_and_get(
    s3: embedded_s3.EmbeddedS3, client: Any, key: str, content_type: str | None
) -> None:
    put_params = {"Bucket": BUCKET, "Key": key}
    headers = {}
    if content_type is not None:
        put_params["ContentType"] = content_type
        headers["Content-Type"] = content_type
    put_url = client.generate_presigned_url("put_object", Params=put_params, ExpiresIn=600)
    get_url = client.generate_presigned_url(
        "get_object",
        Params={"Bucket": BUCKET, "Key": key, "ResponseContentDisposition": "attachment"},
        ExpiresIn=600,
    )

    put = httpx.put(put_url, content=CSV, headers=headers)
    get = httpx.get(get_url)

    assert put.status_code == 200, put.text
    assert get.status_code == 200, get.text
    assert get.content == CSV
    assert get.headers["content-disposition"] == "attachment"


def test_presigned_get_returns_the_object_with_its_download_name(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    client.put_object(Bucket=BUCKET, Key="reports/r 1.csv", Body=CSV)
    disposition = storage.content_disposition("rapport été.csv")
    url = presign(
        s3, "GET", "reports/r 1.csv", params={"response-content-disposition": disposition}
    )

    response = httpx.get(url)

    assert response.status_code == 200
    assert response.content == CSV
    assert response.headers["content-disposition"] == disposition


def test_presigned_get_of_a_missing_object_with_a_download_name_is_no_such_key(
    s3: embedded_s3.EmbeddedS3,
) -> None:
    url = presign(
        s3, "GET", "reports/gone.csv", params={"response-content-disposition": "attachment"}
    )

    response = httpx.get(url)

    assert response.status_code == 404
    assert "<Code>NoSuchKey</Code>" in response.text


def test_expired_url_is_refused_with_request_has_expired(
    s3: embedded_s3.EmbeddedS3, advance_clock: clock.Clock
) -> None:
    url = presign(s3, "PUT", "uploads/late.csv")
    advance_clock.offset_seconds = 601

    response = httpx.put(url, content=CSV, headers={"Content-Type": "text/csv"})

    assert response.status_code == 403
    assert error_code(response) == "AccessDenied"
    assert "<Message>Request has expired</Message>" in response.text
    assert "<X-Amz-Expires>600</X-Amz-Expires>" in response.text
    assert "<ServerTime>" in response.text


def test_url_is_still_valid_just_before_it_expires(
    s3: embedded_s3.EmbeddedS3, advance_clock: clock.Clock
) -> None:
    url = presign(s3, "PUT", "uploads/in-time.csv")
    advance_clock.offset_seconds = 590

    response = httpx.put(url, content=CSV)

    assert response.status_code == 200


def presign_at(s3: embedded_s3.EmbeddedS3, key: str, signed_at: float) -> str:
    """A PUT URL signed by a clock that reads `signed_at` (one running ahead, say)."""
    return storage.presign_url(
        method="PUT", endpoint_url=s3.endpoint_url, bucket=BUCKET, key=key,
        access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION, expires_in=600,
        now=signed_at,
    )  # fmt: skip


def test_url_dated_past_the_clock_skew_is_refused_as_not_yet_valid(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    signed_at = time.time() + 16 * 60  # S3 and MinIO allow a signer's clock 15 minutes ahead
    url = presign_at(s3, "uploads/early.csv", signed_at)

    response = httpx.put(url, content=CSV, headers={"Content-Type": "text/csv"})

    assert response.status_code == 403
    assert error_code(response) == "AccessDenied"
    assert "<Message>Request is not yet valid</Message>" in response.text
    # S3 writes the request date in epoch milliseconds here, the other times in ISO 8601
    assert f"<X-Amz-Date>{int(signed_at) * 1000}</X-Amz-Date>" in response.text
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(signed_at) + 600))
    assert f"<Expires>{expires}</Expires>" in response.text
    assert "<ServerTime>" in response.text


def test_url_dated_within_the_clock_skew_is_accepted(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    url = presign_at(s3, "uploads/slightly-early.csv", time.time() + 14 * 60)

    assert httpx.put(url, content=CSV).status_code == 200


def test_url_signed_by_the_advanced_server_clock_is_judged_by_that_clock(
    s3: embedded_s3.EmbeddedS3, client: Any, advance_clock: clock.Clock
) -> None:
    # the server signs by its clock, which the admin API moves, and the endpoint reads it too
    advance_clock.offset_seconds = 3600
    url = presign_at(s3, "uploads/advanced.csv", advance_clock.time())
    assert httpx.put(url, content=CSV).status_code == 200
    # back to real time, the URL is dated an hour ahead, as from a signer whose clock ran fast
    advance_clock.offset_seconds = 0
    refused = httpx.put(url, content=CSV)
    assert refused.status_code == 403 and "Request is not yet valid" in refused.text


def test_tampered_signature_is_refused_with_signature_does_not_match(
    s3: embedded_s3.EmbeddedS3,
) -> None:
    url = presign(s3, "PUT", "uploads/tampered.csv")
    signature = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["X-Amz-Signature"]
    tampered = replace_param(url, "X-Amz-Signature", signature[::-1])

    response = httpx.put(tampered, content=CSV)

    assert response.status_code == 403
    assert error_code(response) == "SignatureDoesNotMatch"


def test_url_used_with_another_method_is_refused(s3: embedded_s3.EmbeddedS3) -> None:
    url = presign(s3, "GET", "uploads/plain.csv")

    response = httpx.put(url, content=CSV)

    assert response.status_code == 403
    assert error_code(response) == "SignatureDoesNotMatch"


def test_unsigned_checksum_header_is_refused_with_headers_not_signed(
    s3: embedded_s3.EmbeddedS3,
) -> None:
    url = presign(s3, "PUT", "uploads/checksum.csv")

    response = httpx.put(url, content=CSV, headers={"x-amz-checksum-crc32": "AAAAAA=="})

    assert response.status_code == 403
    assert error_code(response) == "AccessDenied"
    assert "<HeadersNotSigned>x-amz-checksum-crc32</HeadersNotSigned>" in response.text


def test_unknown_access_key_is_refused_with_invalid_access_key_id(
    s3: embedded_s3.EmbeddedS3,
) -> None:
    url = storage.presign_url(
        method="PUT",
        endpoint_url=s3.endpoint_url,
        bucket=BUCKET,
        key="uploads/stranger.csv",
        access_key="someone-else",
        secret_key=SECRET_KEY,
        region=REGION,
        expires_in=600,
        now=time.time(),
    )

    response = httpx.put(url, content=CSV)

    assert response.status_code == 403
    assert error_code(response) == "InvalidAccessKeyId"


def test_url_signed_for_another_region_is_refused(s3: embedded_s3.EmbeddedS3) -> None:
    url = presign(s3, "PUT", "uploads/region.csv")
    credential = f"{ACCESS_KEY}/20240101/us-west-2/s3/aws4_request"

    response = httpx.put(replace_param(url, "X-Amz-Credential", credential), content=CSV)

    assert response.status_code == 400
    assert error_code(response) == "AuthorizationQueryParametersError"


def test_request_without_any_signature_is_refused(s3: embedded_s3.EmbeddedS3) -> None:
    response = httpx.put(f"{s3.endpoint_url}/{BUCKET}/anonymous.csv", content=CSV)

    assert response.status_code == 403
    assert error_code(response) == "AccessDenied"


def test_refused_head_request_has_no_body(s3: embedded_s3.EmbeddedS3) -> None:
    response = httpx.head(f"{s3.endpoint_url}/{BUCKET}/anonymous.csv")

    assert response.status_code == 403
    assert response.content == b""


def test_signed_content_type_must_be_sent_exactly(s3: embedded_s3.EmbeddedS3) -> None:
    url = presign(s3, "PUT", "uploads/typed.csv", headers={"content-type": "text/csv"})

    exact = httpx.put(url, content=CSV, headers={"Content-Type": "text/csv"})
    other = httpx.put(url, content=CSV, headers={"Content-Type": "text/csv; charset=utf-8"})

    assert exact.status_code == 200
    assert other.status_code == 403
    assert error_code(other) == "SignatureDoesNotMatch"


def test_successful_put_reports_the_created_object(
    s3: embedded_s3.EmbeddedS3, created: list[tuple[str, str]]
) -> None:
    created.clear()
    url = presign(s3, "PUT", "uploads/notify me.csv")

    httpx.put(url, content=CSV)

    assert created == [(BUCKET, "uploads/notify me.csv")]


def test_refused_put_reports_nothing(
    s3: embedded_s3.EmbeddedS3, created: list[tuple[str, str]]
) -> None:
    created.clear()
    url = presign(s3, "PUT", "uploads/refused.csv")

    httpx.put(url, content=CSV, headers={"x-amz-checksum-crc32": "AAAAAA=="})

    assert created == []


def test_concurrent_puts_each_report_their_object(
    s3: embedded_s3.EmbeddedS3, created: list[tuple[str, str]]
) -> None:
    created.clear()
    keys = [f"uploads/concurrent {n}.csv" for n in range(8)]

    with concurrent.futures.ThreadPoolExecutor(len(keys)) as pool:
        responses = list(
            pool.map(lambda key: httpx.put(presign(s3, "PUT", key), content=CSV), keys)
        )

    assert [response.status_code for response in responses] == [200] * len(keys)
    assert sorted(created) == [(BUCKET, key) for key in sorted(keys)]


def test_failing_listener_does_not_fail_the_upload(
    s3: embedded_s3.EmbeddedS3, created: list[tuple[str, str]], client: Any
) -> None:
    created.clear()
    url = presign(s3, "PUT", "explode/upload.csv")

    response = httpx.put(url, content=CSV)

    assert response.status_code == 200
    assert created == [(BUCKET, "explode/upload.csv")]
    assert client.head_object(Bucket=BUCKET, Key="explode/upload.csv")["ContentLength"] == len(CSV)


def test_header_signed_requests_pass_through_to_s3(client: Any) -> None:
    client.put_object(Bucket=BUCKET, Key="sdk/object.csv", Body=CSV)

    assert client.get_object(Bucket=BUCKET, Key="sdk/object.csv")["Body"].read() == CSV


MIB = 1 << 20
CHURN_WRITES = 600  # small objects overwritten or written and deleted (about 12 KiB each kept)
NOTE = {"note": "n" * 2000}


def test_deleted_and_overwritten_objects_leave_nothing_in_memory(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    # moto kept a record of every object it ever stored (about 12 KiB each, long after the
    # object was deleted or overwritten), so the endpoint grew with each write for ever
    endpoint = psutil.Process(s3.pid)
    for _ in range(100):  # warm up
        client.put_object(Bucket=BUCKET, Key="churn/same.csv", Body=CSV)
    before = endpoint.memory_info().rss
    for n in range(CHURN_WRITES // 2):
        # with S3's largest user metadata (2 KiB), as a record holds it
        client.put_object(Bucket=BUCKET, Key="churn/same.csv", Body=CSV, Metadata=NOTE)
        client.put_object(Bucket=BUCKET, Key=f"churn/{n}.csv", Body=CSV, Metadata=NOTE)
        client.delete_object(Bucket=BUCKET, Key=f"churn/{n}.csv")

    grown = endpoint.memory_info().rss - before
    assert grown < 3 * MIB, f"the endpoint grew {grown / MIB:.1f} MiB over {CHURN_WRITES} writes"


def client_with(s3: embedded_s3.EmbeddedS3, access_key: str, secret_key: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=storage.CLIENT_CONFIG,
    )


def test_header_signed_requests_of_every_kind_pass_with_the_right_keys(client: Any) -> None:
    key = "sdk/a key (with) spaces+ünïcode.csv"
    client.put_object(Bucket=BUCKET, Key=key, Body=CSV, ContentType="text/csv")
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="sdk/a key")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert client.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(CSV)
    client.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key}]})
    # a multipart upload, as the server writes large files (`?uploads`, `?partNumber&uploadId`)
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="sdk/parts.csv")
    part = client.upload_part(
        Bucket=BUCKET, Key="sdk/parts.csv", UploadId=upload["UploadId"], PartNumber=1, Body=CSV
    )
    client.complete_multipart_upload(
        Bucket=BUCKET, Key="sdk/parts.csv", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert client.get_object(Bucket=BUCKET, Key="sdk/parts.csv")["Body"].read() == CSV


def test_header_signed_request_with_a_wrong_secret_is_refused(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    # anyone on the machine could otherwise read every upload and export, or write them
    client.put_object(Bucket=BUCKET, Key="secret/object.csv", Body=CSV)
    intruder = client_with(s3, ACCESS_KEY, "not-the-secret")
    for call in (
        lambda: intruder.get_object(Bucket=BUCKET, Key="secret/object.csv"),
        lambda: intruder.put_object(Bucket=BUCKET, Key="secret/object.csv", Body=b"x"),
        lambda: intruder.list_objects_v2(Bucket=BUCKET),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert client.get_object(Bucket=BUCKET, Key="secret/object.csv")["Body"].read() == CSV


def test_header_signed_request_with_an_unknown_access_key_is_refused(
    s3: embedded_s3.EmbeddedS3,
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client_with(s3, "someone-else", SECRET_KEY).list_objects_v2(Bucket=BUCKET)
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


@pytest.mark.parametrize("value", ["x", "AWS4-HMAC-SHA256 Credential=", "AWS a:b"])
def test_a_made_up_authorization_header_is_refused(
    s3: embedded_s3.EmbeddedS3, client: Any, value: str
) -> None:
    client.put_object(Bucket=BUCKET, Key="secret/made-up.csv", Body=CSV)
    response = httpx.get(
        f"{s3.endpoint_url}/{BUCKET}/secret/made-up.csv", headers={"Authorization": value}
    )
    assert response.status_code in (400, 403), response.text
    assert CSV not in response.content


def listening_ports(pid: int) -> set[int]:
    return {
        connection.laddr.port
        for connection in psutil.Process(pid).net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN
    }


def has_exited(pid: int) -> bool:
    """Whether `pid` is gone; a zombie (exited, not yet reaped by its new parent) counts."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for_exit(pid: int, timeout: float = EXIT_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not has_exited(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_endpoint_is_served_by_a_child_process(s3: embedded_s3.EmbeddedS3) -> None:
    port = urllib.parse.urlsplit(s3.endpoint_url).port
    assert port is not None

    assert s3.pid != os.getpid()
    assert psutil.Process(s3.pid).ppid() == os.getpid()
    assert port in listening_ports(s3.pid)
    assert port not in listening_ports(os.getpid())


async def test_the_servers_embedded_s3_runs_in_a_child_process_of_the_server(
    api: Api, server: ServerProcess
) -> None:
    job = await start_job(api)
    port = urllib.parse.urlsplit(job["upload_url"]).port
    assert port is not None

    children = psutil.Process(server.process.pid).children()
    serving = [child.pid for child in children if port in listening_ports(child.pid)]

    assert len(serving) == 1
    assert port not in listening_ports(server.process.pid)


def test_large_upload_grows_the_child_process_not_this_one(
    s3: embedded_s3.EmbeddedS3, client: Any
) -> None:
    body = os.urandom(1 << 20) * 32  # 32 MiB
    url = presign(s3, "PUT", "uploads/large.bin")
    ours_before = psutil.Process().memory_info().rss
    child_before = psutil.Process(s3.pid).memory_info().rss

    response = httpx.put(url, content=body)

    assert response.status_code == 200
    assert psutil.Process(s3.pid).memory_info().rss - child_before > len(body)
    # The request body itself is held here once; moto's copies are in the child.
    assert psutil.Process().memory_info().rss - ours_before < 2 * len(body)
    client.delete_object(Bucket=BUCKET, Key="uploads/large.bin")


def test_stop_ends_the_child_process_and_frees_the_port() -> None:
    server = embedded_s3.EmbeddedS3(access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION)
    server.start()
    pid, url = server.pid, server.endpoint_url

    server.stop()

    assert has_exited(pid)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_child_process_exits_when_its_parent_is_killed() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT], cwd=ROOT, stdout=subprocess.PIPE
    ) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            assert not has_exited(child)
        finally:
            parent.kill()

    assert wait_for_exit(child), "the endpoint's process outlived its parent"


def test_taken_port_fails_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = embedded_s3.EmbeddedS3(
            port=port, access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION
        )

        with pytest.raises(RuntimeError, match="before listening"):
            server.start()


# Out of space: `refuses_write` (the server's `s3_write` fault) refuses writes as MinIO does


@pytest.fixture(scope="module")
def asked() -> list[tuple[str, str]]:
    return []


@pytest.fixture(scope="module")
def full_s3(asked: list[tuple[str, str]]) -> Iterator[embedded_s3.EmbeddedS3]:
    """An endpoint whose owner refuses every write under `full/` (and fails on `explode/`)."""

    def refuses(bucket: str, key: str) -> bool:
        asked.append((bucket, key))
        if key.startswith("explode/"):
            raise RuntimeError("hook failure")
        return key.startswith("full/")

    server = embedded_s3.EmbeddedS3(
        access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION, refuses_write=refuses
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def full_client(full_s3: embedded_s3.EmbeddedS3) -> Any:
    return client_with_bucket(full_s3)


def test_a_refused_presigned_put_is_minio_storage_full_and_stores_nothing(
    full_s3: embedded_s3.EmbeddedS3, full_client: Any
) -> None:
    response = httpx.put(presign(full_s3, "PUT", "full/upload.csv"), content=CSV)

    assert response.status_code == 507
    assert error_code(response) == "XMinioStorageFull"
    assert "minimum free drive threshold" in response.text
    assert "Contents" not in full_client.list_objects_v2(Bucket=BUCKET, Prefix="full/")
    # space elsewhere: the same kind of write goes in
    assert httpx.put(presign(full_s3, "PUT", "room/upload.csv"), content=CSV).status_code == 200


def test_refused_sdk_writes_are_client_errors_with_minios_code(full_client: Any) -> None:
    for write in (
        lambda: full_client.put_object(Bucket=BUCKET, Key="full/object.csv", Body=CSV),
        lambda: full_client.create_multipart_upload(Bucket=BUCKET, Key="full/big.csv"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            write()
        assert raised.value.response["Error"]["Code"] == "XMinioStorageFull"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 507


def test_only_writes_are_asked_about_and_a_failing_hook_refuses_nothing(
    full_client: Any, asked: list[tuple[str, str]]
) -> None:
    full_client.put_object(Bucket=BUCKET, Key="explode/object.csv", Body=CSV)
    asked.clear()

    full_client.get_object(Bucket=BUCKET, Key="explode/object.csv")
    full_client.head_object(Bucket=BUCKET, Key="explode/object.csv")
    full_client.list_objects_v2(Bucket=BUCKET)
    full_client.delete_object(Bucket=BUCKET, Key="explode/object.csv")

    assert asked == []
