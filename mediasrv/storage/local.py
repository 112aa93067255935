"""An ObjectStore on a local directory, for development, tests and single-host installs."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

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

# Temp files share this prefix so list() can skip a write in progress (or one left by a crash).
_TMP_PREFIX = ".tmp-"
# Owner only, whatever the umask: the store holds drafts and withdrawn media too. Files are made by
# mkstemp, which gives 0600; directories by _mkdir.
_DIR_MODE = 0o700
# Unfinished multipart objects, one folder per upload id, under root but never listed as objects.
_MULTIPART = ".multipart"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class LocalStore:
    """Objects are plain files under root, at their key's path.

    put_file ignores its content_type argument: a directory keeps no per-object metadata, so the type
    follows the key's suffix (base.content_type_for); every key mediasrv writes has a telling suffix.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _info(self, key: str, path: Path) -> ObjectInfo:
        st = path.stat()
        return ObjectInfo(key, st.st_size, f"{st.st_size:x}-{st.st_mtime_ns:x}", content_type_for(key))

    def _mkdir(self, directory: Path) -> None:
        """`directory` and its missing parents inside root, each created owner-only (mkdir -p would
        give parents 0777 less the umask)."""
        missing: list[Path] = []
        while directory != self.root and not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        if directory == self.root:
            self.root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        for d in reversed(missing):
            with contextlib.suppress(FileExistsError):  # a concurrent writer made it
                d.mkdir(mode=_DIR_MODE)

    def _unavailable(self, exc: OSError) -> StorageUnavailable:
        return StorageUnavailable("storage.local_unusable", root=str(self.root), detail=str(exc))

    def put_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> ObjectInfo:
        dest = self._path(key)
        try:
            self._mkdir(dest.parent)
            # Copy to a temp file beside dest, then rename over it: readers see the old or the new
            # object, never half of one. A copy (not a link or move) leaves the caller's file alone
            # and unaliased, so later edits to it cannot change the stored object.
            fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=dest.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
                tmp.replace(dest)  # os.replace: atomic within one filesystem
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            return self._info(key, dest)
        except OSError as exc:
            if not path.is_file():
                raise  # the caller's file is missing: a bug upstream, not a storage outage
            raise self._unavailable(exc) from exc

    def copy(self, source: str, key: str, *, content_type: str | None = None) -> None:
        # content_type is not kept: the type follows the key's suffix (see the class).
        src, dest = self._path(source), self._path(key)
        if not src.is_file():
            raise ObjectNotFound("storage.object_missing", name=source)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.parent / f"{_TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                try:
                    # A hard link costs no space and is still an independent copy here: objects
                    # are never written in place (put_file renames a new file over the key, delete
                    # unlinks), so replacing or deleting either name leaves the other's bytes alone.
                    os.link(src, tmp)
                except FileNotFoundError:
                    raise
                except OSError:  # no hard links on this filesystem (or at its link limit)
                    shutil.copyfile(src, tmp)
                tmp.replace(dest)  # atomic, as in put_file
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except FileNotFoundError as exc:
            if not src.is_file():  # deleted since the check above
                raise ObjectNotFound("storage.object_missing", name=source) from exc
            raise self._unavailable(exc) from exc
        except OSError as exc:
            raise self._unavailable(exc) from exc

    # Multipart: each part a file of its own (written as put_file writes), joined by
    # complete_multipart, with S3's rules, so that code tried on this store also works on S3.

    def _parts_dir(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ValueError(f"invalid multipart upload id: {upload_id!r}")
        return self.root / _MULTIPART / upload_id

    def start_multipart(self, key: str) -> str:
        check_key(key)
        upload_id = uuid.uuid4().hex
        try:
            self._mkdir(self._parts_dir(upload_id))
        except OSError as exc:
            raise self._unavailable(exc) from exc
        return upload_id

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        check_key(key)
        if not 1 <= number <= MAX_PARTS:
            raise ValueError(f"part number {number} is outside 1..{MAX_PARTS}")
        folder = self._parts_dir(upload_id)
        if not folder.is_dir():
            raise ObjectNotFound("storage.object_missing", name=f"{key} (upload {upload_id})")
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                part = folder / f"{number:05d}"
                tmp.replace(part)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            return self._info(key, part).etag
        except OSError as exc:
            raise self._unavailable(exc) from exc

    def complete_multipart(self, key: str, upload_id: str, etags: list[str]) -> None:
        dest = self._path(key)
        folder = self._parts_dir(upload_id)
        if not folder.is_dir():
            raise ObjectNotFound("storage.object_missing", name=f"{key} (upload {upload_id})")
        parts = [folder / f"{number:05d}" for number in range(1, len(etags) + 1)]
        for number, (part, etag) in enumerate(zip(parts, etags, strict=True), start=1):
            info = self._info(key, part) if part.is_file() else None
            if info is None or info.etag != etag:
                raise ValueError(f"part {number} of {key} is not the one uploaded (etag {etag})")
            if number < len(parts) and info.size < MIN_PART:  # S3's EntityTooSmall
                raise ValueError(f"part {number} of {key} has {info.size} bytes, under {MIN_PART}")
        try:
            self._mkdir(dest.parent)
            fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=dest.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out:
                    for part in parts:
                        with part.open("rb") as src:
                            shutil.copyfileobj(src, out, CHUNK)
                tmp.replace(dest)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise self._unavailable(exc) from exc
        shutil.rmtree(folder, ignore_errors=True)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        check_key(key)
        shutil.rmtree(self._parts_dir(upload_id), ignore_errors=True)

    def get_file(self, key: str, path: Path) -> None:
        src = self._path(key)
        try:
            shutil.copyfile(src, path)
        except FileNotFoundError as exc:
            if not src.is_file():
                raise ObjectNotFound("storage.object_missing", name=key) from exc
            raise
        except IsADirectoryError as exc:
            raise ObjectNotFound("storage.object_missing", name=key) from exc

    def read(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        if offset < 0 or (length is not None and length < 0):
            raise ValueError(f"bad range: offset={offset} length={length}")
        src = self._path(key)
        # Check now so a missing key fails at the call, as for S3; the file is opened only once
        # iteration starts, so a generator that is dropped unstarted holds nothing open.
        if not src.is_file():
            raise ObjectNotFound("storage.object_missing", name=key)
        return self._chunks(src, offset, length)

    def _chunks(self, src: Path, offset: int, length: int | None) -> Iterator[bytes]:
        try:
            f = src.open("rb")
        except FileNotFoundError as exc:  # deleted since read() checked
            raise ObjectNotFound(
                "storage.object_missing", name=src.relative_to(self.root).as_posix()
            ) from exc
        except OSError as exc:
            raise self._unavailable(exc) from exc
        with f:
            f.seek(offset)
            left = length
            while left is None or left > 0:
                data = f.read(CHUNK if left is None else min(CHUNK, left))
                if not data:
                    return
                if left is not None:
                    left -= len(data)
                yield data

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            if not path.is_file():
                return None
            return self._info(key, path)
        except FileNotFoundError:
            return None  # deleted between the two calls
        except OSError as exc:
            raise self._unavailable(exc) from exc

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        # Prefixes are plain string prefixes (as in S3), so "a/b" matches "a/bc/x" too.
        return self._list(check_prefix(prefix))

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        found: list[tuple[str, Path]] = []
        for dirpath, dirs, files in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            if rel == ".":
                dirs[:] = [d for d in dirs if d != _MULTIPART]  # parts, not objects
            base = "" if rel == "." else rel + "/"
            if not (base.startswith(prefix) or prefix.startswith(base)):
                continue
            for name in files:
                key = base + name
                if not name.startswith(_TMP_PREFIX) and key.startswith(prefix):
                    found.append((key, Path(dirpath) / name))
        for key, path in sorted(found):
            with contextlib.suppress(FileNotFoundError):  # deleted while listing
                yield self._info(key, path)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            return  # a "directory" is not an object
        except OSError as exc:
            raise self._unavailable(exc) from exc
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def _prune(self, directory: Path) -> None:
        """Remove now-empty directories up to root, so deleted trees leave no litter."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return  # not empty (or already gone): stop climbing
            directory = directory.parent

    def check(self) -> None:
        try:
            self.root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            if self.root.stat().st_mode & 0o077:  # made readable by an older version: close it
                self.root.chmod(_DIR_MODE)
            fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.root)
            os.close(fd)
            Path(name).unlink()
        except OSError as exc:
            raise self._unavailable(exc) from exc
