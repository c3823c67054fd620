"""Storage against the embedded S3 endpoint: objects, streams and pre-signed URLs."""

from __future__ import annotations

import datetime
import os
import socket
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import botocore.config
import httpx
import pytest

from server import embedded_s3, errors, storage

ACCESS_KEY = "storage-access-key"
SECRET_KEY = "storage-secret-key"
REGION = "eu-west-1"
BUCKET = "storage-tests"
CSV = b"name,email\nAda,ada@example.com\n"


@pytest.fixture(scope="module")
def created() -> list[tuple[str, str]]:
    return []


@pytest.fixture(scope="module")
def s3(created: list[tuple[str, str]]) -> Iterator[embedded_s3.EmbeddedS3]:
    server = embedded_s3.EmbeddedS3(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        on_object_created=lambda bucket, key: created.append((bucket, key)),
    )
    server.start()
    yield server
    server.stop()


def make_storage(endpoint_url: str, **overrides: Any) -> storage.Storage:
    options: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "public_endpoint_url": None,
        "bucket": BUCKET,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "region": REGION,
        **overrides,
    }
    return storage.Storage(**options)


@pytest.fixture
async def store(s3: embedded_s3.EmbeddedS3) -> AsyncIterator[storage.Storage]:
    opened = make_storage(s3.endpoint_url)
    await opened.start()
    yield opened
    await opened.delete_all()
    await opened.close()


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail fast where a test expects S3 to be unreachable."""
    no_retry = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
    monkeypatch.setattr(storage, "CLIENT_CONFIG", storage.CLIENT_CONFIG.merge(no_retry))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_start_creates_the_bucket_and_ping_answers(store: storage.Storage) -> None:
    assert await store.ping() is True


async def test_starting_twice_on_an_existing_bucket_is_fine(s3: embedded_s3.EmbeddedS3) -> None:
    first, second = make_storage(s3.endpoint_url), make_storage(s3.endpoint_url)

    await first.start()
    await second.start()

    try:
        assert await second.ping() is True
    finally:
        await first.close()
        await second.close()


@pytest.mark.usefixtures("no_retries")
async def test_ping_is_false_once_s3_is_gone() -> None:
    server = embedded_s3.EmbeddedS3(access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION)
    server.start()
    store = make_storage(server.endpoint_url)
    await store.start()
    server.stop()

    try:
        assert await store.ping() is False
    finally:
        await store.close()


@pytest.mark.usefixtures("no_retries")
async def test_start_against_an_unreachable_endpoint_raises_storage_error() -> None:
    store = make_storage(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(errors.StorageError):
        await store.start()


async def test_upload_through_presigned_put_needs_only_content_type(
    store: storage.Storage, created: list[tuple[str, str]]
) -> None:
    created.clear()
    url = await store.presign_put("uploads/job 1.csv", expires_in=600)

    async with httpx.AsyncClient() as http:
        response = await http.put(
            url, content=CSV, headers={"Content-Type": "text/csv; charset=utf-8"}
        )

    assert response.status_code == 200
    assert response.headers["etag"]
    assert await store.head("uploads/job 1.csv") == len(CSV)
    assert created == [(BUCKET, "uploads/job 1.csv")]


async def test_presigned_put_with_content_type_signs_it(store: storage.Storage) -> None:
    url = await store.presign_put("uploads/typed.csv", expires_in=600, content_type="text/csv")

    async with httpx.AsyncClient() as http:
        other = await http.put(url, content=CSV, headers={"Content-Type": "application/json"})
        exact = await http.put(url, content=CSV, headers={"Content-Type": "text/csv"})

    assert other.status_code == 403
    assert exact.status_code == 200


async def test_presigned_get_downloads_under_the_given_filename(store: storage.Storage) -> None:
    await store.put_bytes("reports/1.csv", CSV)
    url = await store.presign_get("reports/1.csv", expires_in=600, filename="Leads report.csv")

    async with httpx.AsyncClient() as http:
        response = await http.get(url)

    assert response.status_code == 200
    assert response.content == CSV
    assert response.headers["content-disposition"] == 'attachment; filename="Leads report.csv"'


async def test_presigned_urls_use_the_public_endpoint(
    s3: embedded_s3.EmbeddedS3, store: storage.Storage
) -> None:
    public = make_storage(s3.endpoint_url, public_endpoint_url="http://s3.example.com:9000")
    url = await public.presign_put("uploads/docker.csv", expires_in=600)
    parts = urllib.parse.urlsplit(url)
    # Reach the endpoint directly while sending the Host a docker client would send.
    direct = parts._replace(netloc=urllib.parse.urlsplit(s3.endpoint_url).netloc).geturl()

    async with httpx.AsyncClient() as http:
        response = await http.put(direct, content=CSV, headers={"Host": parts.netloc})

    assert parts.netloc == "s3.example.com:9000"
    assert response.status_code == 200, response.text
    assert await store.head("uploads/docker.csv") == len(CSV)


async def test_urls_are_signed_with_the_given_clock(s3: embedded_s3.EmbeddedS3) -> None:
    # A server clock moved forward by the admin API still mints URLs valid for their lifetime.
    store = make_storage(s3.endpoint_url, now=lambda: time.time() + 3600)
    url = await store.presign_put("uploads/later.csv", expires_in=600)

    amz_date = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["X-Amz-Date"]
    signed_at = datetime.datetime.strptime(amz_date, storage.AMZ_DATE_FORMAT)
    expected = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(
        hours=1
    )
    assert abs((signed_at - expected).total_seconds()) < 5


@pytest.mark.parametrize("key", ["plain.csv", "dir/with space ü+.csv"])
async def test_presigned_urls_match_botocore_for_the_same_time(
    monkeypatch: pytest.MonkeyPatch, s3: embedded_s3.EmbeddedS3, key: str
) -> None:
    signed_at = datetime.datetime(2026, 7, 1, 12, 30, 0)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args: signed_at)
    reference = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=storage.CLIENT_CONFIG,
    )
    store = make_storage(
        s3.endpoint_url, now=lambda: signed_at.replace(tzinfo=datetime.UTC).timestamp()
    )

    ours = [
        await store.presign_put(key, expires_in=600, content_type="text/csv"),
        await store.presign_get(key, expires_in=86400, filename="a b.csv"),
    ]
    theirs = [
        reference.generate_presigned_url(
            "put_object",
            Params={"Bucket": BUCKET, "Key": key, "ContentType": "text/csv"},
            ExpiresIn=600,
        ),
        reference.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": BUCKET,
                "Key": key,
                "ResponseContentDisposition": 'attachment; filename="a b.csv"',
            },
            ExpiresIn=86400,
        ),
    ]

    for our_url, their_url in zip(ours, theirs, strict=True):
        our_parts, their_parts = urllib.parse.urlsplit(our_url), urllib.parse.urlsplit(their_url)
        assert our_parts.path == their_parts.path
        assert sorted(urllib.parse.parse_qsl(our_parts.query)) == sorted(
            urllib.parse.parse_qsl(their_parts.query)
        )


async def test_presign_refuses_lifetimes_beyond_a_week(store: storage.Storage) -> None:
    with pytest.raises(ValueError, match="expires_in"):
        await store.presign_put("uploads/forever.csv", expires_in=storage.MAX_EXPIRES_IN + 1)


async def test_head_of_a_missing_object_is_none(store: storage.Storage) -> None:
    assert await store.head("uploads/missing.csv") is None


async def test_put_bytes_then_read_chunks_returns_the_content(store: storage.Storage) -> None:
    await store.put_bytes("data/small.csv", CSV)

    chunks = [chunk async for chunk in store.read_chunks("data/small.csv")]

    assert b"".join(chunks) == CSV


async def test_read_chunks_streams_a_large_object_in_several_chunks(
    store: storage.Storage,
) -> None:
    data = os.urandom(3 << 20) + b"tail"
    await store.put_bytes("data/large.bin", data, content_type="application/octet-stream")

    chunks = [chunk async for chunk in store.read_chunks("data/large.bin", chunk_size=1 << 20)]

    assert len(chunks) >= 4
    assert all(len(chunk) <= 1 << 20 for chunk in chunks)
    assert b"".join(chunks) == data


async def test_reading_a_missing_object_raises_storage_error(store: storage.Storage) -> None:
    with pytest.raises(errors.StorageError) as raised:
        async for _ in store.read_chunks("data/missing.csv"):
            pass

    assert "NoSuchKey" in raised.value.message


async def test_put_file_uploads_a_small_file(store: storage.Storage, tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(CSV)

    await store.put_file("reports/small.csv", str(path))

    assert await store.head("reports/small.csv") == len(CSV)


async def test_put_file_uploads_a_large_file_in_parts(
    store: storage.Storage, tmp_path: Path, created: list[tuple[str, str]]
) -> None:
    created.clear()
    data = os.urandom(storage.PART_SIZE * 2 + (1 << 20))
    path = tmp_path / "large.csv"
    path.write_bytes(data)

    await store.put_file("reports/large.csv", str(path))

    assert await store.head("reports/large.csv") == len(data)
    assert b"".join([chunk async for chunk in store.read_chunks("reports/large.csv")]) == data
    # Parts are not objects: only the completed upload is reported.
    assert created == [(BUCKET, "reports/large.csv")]


async def test_delete_all_empties_the_bucket(store: storage.Storage) -> None:
    for index in range(3):
        await store.put_bytes(f"data/{index}.csv", CSV)

    await store.delete_all()

    assert [await store.head(f"data/{index}.csv") for index in range(3)] == [None, None, None]


async def test_writes_an_endpoint_refuses_for_space_raise_storage_full(tmp_path: Path) -> None:
    # a MinIO whose drives are full: every write refused with 507 XMinioStorageFull
    full = embedded_s3.EmbeddedS3(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        refuses_write=lambda bucket, key: key.startswith("full/"),
    )
    full.start()
    opened = make_storage(full.endpoint_url)
    await opened.start()
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (storage.PART_SIZE + 1))  # a multipart upload
    try:
        for write in (
            opened.put_bytes("full/small.csv", CSV),
            opened.put_file("full/big.csv", str(big)),
        ):
            with pytest.raises(errors.StorageFull) as raised:
                await write
            assert raised.value.message == (
                "The object store is out of space (S3 answered XMinioStorageFull to a put); "
                "try again later"
            )
            assert raised.value.status_code == 503
        assert await opened.head("full/small.csv") is None
        assert await opened.head("full/big.csv") is None
        await opened.put_bytes("room/small.csv", CSV)  # where there is room, it goes in
    finally:
        await opened.close()
        full.stop()
