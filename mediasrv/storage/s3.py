"""An ObjectStore on S3 (MinIO, SeaweedFS, AWS) through the minio SDK."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import urllib3
from minio import Minio
from minio.commonconfig import REPLACE, CopySource
from minio.datatypes import Part
from minio.deleteobjects import DeleteObject
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError

from mediasrv.kit.errors import ObjectNotFound, StorageUnavailable
from mediasrv.storage.base import (
    CHUNK,
    MAX_PARTS,
    MIN_PART,
    ObjectInfo,
    check_key,
    check_prefix,
    content_type_for,
)

T = TypeVar("T")

# S3 multipart limits: parts of 5 MiB (MIN_PART)..5 GiB, at most 10,000 (MAX_PARTS), objects up to 5 TiB.
MAX_PART = 5 * 1024 * 1024 * 1024
MAX_OBJECT = 5 * 1024 * 1024 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024

# Reported by the server when an object or bucket is missing.
_MISSING_KEY = {"NoSuchKey", "NoSuchObject", "NoSuchUpload"}
_BAD_CREDENTIALS = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def part_size_for(size: int) -> int:
    """16 MiB parts, grown (in 5 MiB steps) only when a file would need more than 10,000 of them."""
    if size > MAX_OBJECT:
        raise ValueError(f"file of {size} bytes exceeds the S3 object limit of 5 TiB")
    needed = math.ceil(math.ceil(size / MAX_PARTS) / MIN_PART) * MIN_PART
    return min(max(PART_SIZE, needed), MAX_PART)


def _http_client() -> urllib3.PoolManager:
    # The SDK's default pool retries 5 times with no connect timeout, so an outage surfaces after
    # minutes. A short connect timeout and two retries report it within seconds; the read timeout
    # stays long enough for the server to commit a 16 MiB part.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5.0, read=30.0),
        retries=urllib3.Retry(
            total=2,
            connect=2,
            read=1,
            status=2,
            backoff_factor=0.2,
            status_forcelist=(500, 502, 503, 504),
            raise_on_status=False,  # let the SDK turn the final 5xx into a ServerError
        ),
        maxsize=10,
    )


class S3Store:
    """Objects in one bucket. Construction does no I/O: check() verifies (and creates) the bucket."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool,
        region: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        self.url = f"{'https' if secure else 'http'}://{endpoint}"
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=_http_client(),
        )

    def __repr__(self) -> str:
        return f"S3Store({self.url!r}, bucket={self.bucket!r})"

    # --- error mapping -------------------------------------------------------------------------

    def _raise(self, exc: BaseException, key: str | None = None) -> NoReturn:
        """Turn an SDK or transport error into the domain error a caller can act on."""
        url = self.url
        if isinstance(exc, S3Error):
            if exc.code in _MISSING_KEY and key is not None:
                raise ObjectNotFound(
                    "storage.object_missing_in_bucket", name=key, bucket=self.bucket
                ) from exc
            if exc.code == "NoSuchBucket":
                raise StorageUnavailable("storage.s3_no_bucket", url=url, bucket=self.bucket) from exc
            if exc.code in _BAD_CREDENTIALS:
                raise StorageUnavailable("storage.s3_credentials", url=url, s3_code=exc.code) from exc
            raise StorageUnavailable(
                "storage.s3_refused", url=url, s3_code=exc.code, detail=exc.message
            ) from exc
        if isinstance(exc, ServerError | InvalidResponseError):
            raise StorageUnavailable("storage.s3_failing", url=url, detail=str(exc)) from exc
        raise StorageUnavailable(
            "storage.s3_unreachable", url=url, detail=f"{type(exc).__name__}: {exc}"
        ) from exc

    def _call(self, fn: Callable[[], T], key: str | None = None) -> T:
        try:
            return fn()
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            # OSError covers socket errors the pool does not wrap; a missing *local* file is the
            # caller's bug and is re-raised as is by the methods that read one.
            self._raise(exc, key)

    # --- ObjectStore ---------------------------------------------------------------------------

    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> ObjectInfo:
        check_key(key)
        size = path.stat().st_size  # raises FileNotFoundError for a missing source, before any I/O
        result = self._call(
            lambda: self._client.fput_object(
                self.bucket, key, str(path), content_type=content_type, part_size=part_size_for(size)
            )
        )
        return ObjectInfo(key, size, _unquote(result.etag), content_type)

    def get_file(self, key: str, path: Path) -> None:
        check_key(key)
        # fget_object downloads to "<path>.<etag>.part_minio" and renames when complete, so a
        # failed download never leaves a truncated file at path.
        self._call(lambda: self._client.fget_object(self.bucket, key, str(path)), key)

    def copy(self, source: str, key: str, *, content_type: str | None = None) -> None:
        check_key(source)
        check_key(key)
        # Server-side (CopyObject; the SDK switches to a multipart copy past 5 GiB), with the
        # source's metadata, content type included, unless a type of its own is given.
        metadata: dict[str, str | list[str] | tuple[str]] | None = (
            None if content_type is None else {"Content-Type": content_type}
        )
        directive = None if content_type is None else REPLACE
        self._call(
            lambda: self._client.copy_object(
                self.bucket,
                key,
                CopySource(self.bucket, source),
                metadata=metadata,
                metadata_directive=directive,
            ),
            source,
        )

    # Multipart: the SDK's own calls (put_object uses them with parts it cuts itself); here the parts
    # come from separate requests, perhaps to separate API processes, and the caller keeps the etags.

    def start_multipart(self, key: str) -> str:
        check_key(key)
        headers: dict[str, str | list[str] | tuple[str]] = {"Content-Type": "application/octet-stream"}
        return self._call(lambda: self._client._create_multipart_upload(self.bucket, key, headers))

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        check_key(key)
        if not 1 <= number <= MAX_PARTS:
            raise ValueError(f"part number {number} is outside 1..{MAX_PARTS}")
        return self._call(
            lambda: self._client._upload_part(self.bucket, key, data, None, upload_id, number), key
        )

    def complete_multipart(self, key: str, upload_id: str, etags: list[str]) -> None:
        check_key(key)
        parts = [Part(number, etag) for number, etag in enumerate(etags, start=1)]
        self._call(lambda: self._client._complete_multipart_upload(self.bucket, key, upload_id, parts), key)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        check_key(key)
        try:
            self._client._abort_multipart_upload(self.bucket, key, upload_id)
        except S3Error as exc:
            if exc.code not in _MISSING_KEY:
                self._raise(exc, key)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            self._raise(exc, key)

    def read(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        check_key(key)
        if offset < 0 or (length is not None and length < 0):
            raise ValueError(f"bad range: offset={offset} length={length}")
        if length == 0:
            # The SDK treats length=0 as "to the end"; an empty range still needs the key to exist.
            if self.stat(key) is None:
                raise ObjectNotFound("storage.object_missing_in_bucket", name=key, bucket=self.bucket)
            return iter(())
        # Issue the request now so a missing key or an outage fails at the call, not mid-stream.
        response = self._call(lambda: self._client.get_object(self.bucket, key, offset, length or 0), key)
        return _Body(response, lambda exc: self._raise(exc, key))

    def stat(self, key: str) -> ObjectInfo | None:
        check_key(key)
        try:
            st = self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _MISSING_KEY:
                return None
            self._raise(exc, key)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            self._raise(exc, key)
        return ObjectInfo(key, st.size or 0, _unquote(st.etag), st.content_type or "application/octet-stream")

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        return self._list(check_prefix(prefix))

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        # S3 lists in binary key order, which is Python's str order for the ASCII keys check_key
        # allows. A listing carries no content type, so it is derived from the key's suffix as in
        # LocalStore; stat() reports the type stored with the object.
        objects = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
        while True:
            try:
                obj = next(objects)
            except StopIteration:
                return
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                self._raise(exc)
            if obj.is_dir or obj.object_name is None:
                continue
            name = obj.object_name
            yield ObjectInfo(name, obj.size or 0, _unquote(obj.etag), content_type_for(name))

    def delete(self, key: str) -> None:
        check_key(key)
        # S3 DELETE of a missing key succeeds, so no NoSuchKey handling is needed.
        self._call(lambda: self._client.remove_object(self.bucket, key))

    def delete_prefix(self, prefix: str) -> int:
        # List first: deleting while paginating the same listing can skip keys.
        keys = [info.key for info in self.list(prefix)]
        if not keys:
            return 0
        errors = self._call(
            lambda: list(self._client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        )
        if errors:
            shown = "; ".join(f"{e.name}: {e.code} {e.message}" for e in errors[:5])
            raise StorageUnavailable(
                "storage.s3_delete_failed",
                url=self.url,
                failed=len(errors),
                total=len(keys),
                prefix=prefix,
                detail=shown,
            )
        return len(keys)

    def check(self) -> None:
        """Verify the bucket is reachable and writable, creating it on first use."""
        if not self._call(lambda: self._client.bucket_exists(self.bucket)):
            try:
                self._client.make_bucket(self.bucket)
            except S3Error as exc:
                # Another process may have created it between the two calls.
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    self._raise(exc)
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                self._raise(exc)
        # A tiny write proves the credentials may write, not only read.
        probe = ".mediasrv-check"
        self._call(lambda: self._client.put_object(self.bucket, probe, io.BytesIO(b""), 0))
        with contextlib.suppress(StorageUnavailable):
            self._call(lambda: self._client.remove_object(self.bucket, probe))


class _Body(Iterator[bytes]):
    """An object's bytes in CHUNK pieces. A class, not a generator, so close() frees the connection
    even when iteration never started (a generator's finally would not run then)."""

    def __init__(self, response: Any, fail: Callable[[BaseException], NoReturn]) -> None:
        self._response = response
        self._chunks: Iterator[bytes] = response.stream(CHUNK)
        self._fail = fail
        self._closed = False

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self.close()
            self._fail(exc)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._response.close()
            self._response.release_conn()

    def __del__(self) -> None:
        self.close()


def _unquote(etag: str | None) -> str:
    return (etag or "").strip('"')
