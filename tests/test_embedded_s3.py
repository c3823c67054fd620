"""The embedded S3 endpoint checks pre-signed URLs as S3 and MinIO do."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from typing import Any, Final

import boto3
import httpx
import pytest

from server import embedded_s3, storage

ACCESS_KEY = "embedded-access-key"
SECRET_KEY = "embedded-secret-key"
REGION: Final = "eu-west-1"
BUCKET = "embedded-s3-tests"
CSV = b"name,email\nAda,ada@example.com\n"


class FakeClock:
    """The server's clock: real time plus an offset a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def created() -> list[tuple[str, str]]:
    return []


@pytest.fixture(scope="module")
def s3(clock: FakeClock, created: list[tuple[str, str]]) -> Iterator[embedded_s3.EmbeddedS3]:
    def record(bucket: str, key: str) -> None:
        created.append((bucket, key))
        if key.startswith("explode/"):
            raise RuntimeError("listener failure")

    server = embedded_s3.EmbeddedS3(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        now=clock.now,
        on_object_created=record,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(s3: embedded_s3.EmbeddedS3) -> Any:
    """A botocore client, the reference signer the checks must agree with."""
    s3_client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=storage.CLIENT_CONFIG,
    )
    s3_client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3_client


@pytest.fixture
def advance_clock(clock: FakeClock) -> Iterator[FakeClock]:
    yield clock
    clock.offset = 0.0


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


def test_expired_url_is_refused_with_request_has_expired(
    s3: embedded_s3.EmbeddedS3, advance_clock: FakeClock
) -> None:
    url = presign(s3, "PUT", "uploads/late.csv")
    advance_clock.offset = 601

    response = httpx.put(url, content=CSV, headers={"Content-Type": "text/csv"})

    assert response.status_code == 403
    assert error_code(response) == "AccessDenied"
    assert "<Message>Request has expired</Message>" in response.text
    assert "<X-Amz-Expires>600</X-Amz-Expires>" in response.text
    assert "<ServerTime>" in response.text


def test_url_is_still_valid_just_before_it_expires(
    s3: embedded_s3.EmbeddedS3, advance_clock: FakeClock
) -> None:
    url = presign(s3, "PUT", "uploads/in-time.csv")
    advance_clock.offset = 590

    response = httpx.put(url, content=CSV)

    assert response.status_code == 200


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
