"""Receive a multipart upload straight from the request stream into a spool file, hashing on the way.

Starlette's own form parsing would first copy the file into a temporary file of its own; parsing the
stream here means one disk write, constant memory, SHA-256 computed as bytes arrive, and the size
limit enforced while receiving rather than after.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO, Protocol

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from mediasrv.kit.errors import EmptyUpload, MediaError, UploadTooLarge
from mediasrv.kit.i18n import Text
from mediasrv.protocol.sizes import human_size
from mediasrv.storage import ObjectStore

HEAD_BYTES = 4096
MAX_FIELD_BYTES = 64 * 1024


class Received(Protocol):
    """A file received whole, checked, and hashed, ready for service.register_upload."""

    @property
    def filename(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def head(self) -> bytes: ...

    def keep(self, store: ObjectStore, key: str, content_type: str) -> None:
        """Store the bytes under key."""
        ...

    def discard(self) -> None:
        """Let go of what this process holds of the bytes (register_upload is done with them)."""
        ...


@dataclass
class SpooledUpload:
    """A file received into the spool (POST /api/v1/assets)."""

    path: Path
    filename: str
    size: int
    sha256: str
    head: bytes
    fields: dict[str, str] = field(default_factory=dict)

    def keep(self, store: ObjectStore, key: str, content_type: str) -> None:
        store.put_file(key, self.path, content_type=content_type)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def clean_filename(raw: str) -> str:
    """The last path component of what the browser sent (Windows or POSIX), without control characters."""
    name = PureWindowsPath(PurePosixPath(raw).name).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "upload"


class _Receiver:
    """Callbacks for python-multipart's push parser: one file part named 'file', small text fields."""

    def __init__(self, spool: BinaryIO, max_bytes: int) -> None:
        self.spool = spool
        self.max_bytes = max_bytes
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = bytearray()
        self.filename: str | None = None
        self.fields: dict[str, str] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._value = bytearray()
        self._field_bytes = 0

    def on_part_begin(self) -> None:
        self._headers = {}
        self._value = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = params.get(b"filename")
        self._is_file = raw_filename is not None
        if self._is_file:
            if self._name != "file" or self.filename is not None:
                raise MediaError("ingest.one_file_field")
            self.filename = clean_filename((raw_filename or b"").decode("utf-8", "replace"))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._is_file:
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise UploadTooLarge(
                    "ingest.too_large_streamed",
                    filename=self.filename,
                    limit=human_size(self.max_bytes),
                    advice=Text("kit.advice.upload"),
                )
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            self.sha.update(chunk)
            self.spool.write(chunk)
        else:
            self._field_bytes += len(chunk)
            if self._field_bytes > MAX_FIELD_BYTES:
                raise MediaError("ingest.fields_too_long")
            self._value += chunk

    def on_part_end(self) -> None:
        if not self._is_file and self._name:
            self.fields[self._name] = self._value.decode("utf-8", "replace")


def multipart_body(
    file: str,
    fields: Mapping[str, str | dict[str, Any]] | None = None,
    *,
    required: Sequence[str] = ("file",),
) -> dict[str, Any]:
    """The OpenAPI request body (`openapi_extra`) of a route that reads its form with receive_upload,
    which FastAPI cannot describe as it does not parse it: a binary `file` and text fields (a
    description, or a schema of their own)."""
    properties: dict[str, Any] = {"file": {"type": "string", "format": "binary", "description": file}}
    for name, spec in (fields or {}).items():
        properties[name] = {"type": "string", "description": spec} if isinstance(spec, str) else spec
    schema = {"type": "object", "required": list(required), "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


async def receive_upload(
    content_type: str, body: AsyncIterator[bytes], *, spool_dir: Path, max_bytes: int
) -> SpooledUpload:
    """Parse a multipart/form-data body into a spool file; on any error the spool file is removed."""
    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise MediaError("ingest.not_multipart")
    spool_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="upload-", dir=spool_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as spool:
            receiver = _Receiver(spool, max_bytes)
            parser = MultipartParser(boundary, callbacks=_callbacks(receiver))  # type: ignore[arg-type]
            try:
                async for chunk in body:
                    parser.write(chunk)
                parser.finalize()
            except MultipartParseError as exc:  # a broken body is the client's error, not ours
                raise MediaError("ingest.malformed_multipart", detail=str(exc)) from None
        if receiver.filename is None:
            raise MediaError("ingest.no_file")
        if receiver.size == 0:
            raise EmptyUpload("ingest.empty", filename=receiver.filename)
        return SpooledUpload(
            path=path,
            filename=receiver.filename,
            size=receiver.size,
            sha256=receiver.sha.hexdigest(),
            head=bytes(receiver.head),
            fields=receiver.fields,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _callbacks(r: _Receiver) -> dict[str, object]:
    return {
        "on_part_begin": r.on_part_begin,
        "on_part_data": r.on_part_data,
        "on_part_end": r.on_part_end,
        "on_header_field": r.on_header_field,
        "on_header_value": r.on_header_value,
        "on_header_end": r.on_header_end,
        "on_headers_finished": r.on_headers_finished,
    }
