"""Offline bundles: a site's manifest and files written to a directory (a USB disk) for sites with
no usable line; `mediasrv-site import DIR` checks and adopts it (mediasrv/agent/bundle.py).

A bundle is laid out like a site's cache, so the agent reads it with the same Layout:

    DIR/manifest.json   the site's current manifest: its exact signed bytes
    DIR/manifest.sig    X-Manifest-Signature of those bytes (base64 Ed25519)
    DIR/key.pub         the server's manifest public key, for the administrator to pin; an importer
                        never trusts it on its own (whoever can swap the disk can swap this file)
    DIR/lists/<sha256>.json  every file list the manifest names, its exact bytes (the signed
                        manifest gives each list's digest, so they need no signature of their own)
    DIR/files/<path>    every file of those lists at its path

Every file written is hashed on the way and compared with the manifest; files already present with
the right size and SHA-256 are kept, so exporting again to the same disk copies only what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.db import Database
from mediasrv.delivery import service
from mediasrv.delivery.manifest.build import DOCUMENT_FILE
from mediasrv.delivery.manifest.models import FileList
from mediasrv.delivery.manifest.store import ManifestService
from mediasrv.kit.errors import MediaError, NotFound, ObjectNotFound
from mediasrv.protocol.china import today_in_china
from mediasrv.protocol.document import (
    BUNDLE_FILES,
    BUNDLE_LISTS,
    BUNDLE_MANIFEST,
    BUNDLE_PUBLIC_KEY,
    BUNDLE_SIGNATURE,
    list_digests,
    site_files,
)
from mediasrv.protocol.hashing import file_sha256
from mediasrv.storage import ObjectStore, keys

MANIFEST, SIGNATURE, PUBLIC_KEY, FILES, LISTS = (
    BUNDLE_MANIFEST,
    BUNDLE_SIGNATURE,
    BUNDLE_PUBLIC_KEY,
    BUNDLE_FILES,
    BUNDLE_LISTS,
)
_PART = ".part"  # a file being written; never a manifest path's suffix


class BundleError(MediaError):
    """The bundle could not be written correctly; the message says what to do."""

    status_code = 500
    code = "bundle_failed"


@dataclass(frozen=True)
class ExportResult:
    site_id: int
    site_code: str
    version: int
    public_key: str
    files: int
    total_bytes: int
    written_files: int
    written_bytes: int
    removed_files: int


# (files done, files in all, bytes done, bytes in all), called after each file
Progress = Callable[[int, int, int, int], None]


def _relative(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts) or "\\" in path:
        raise BundleError("delivery.bundle_path_invalid", path=path)
    return rel


def _sources(session: Session, paths: Iterable[str]) -> dict[str, bytes | str]:
    """Where each file comes from: the bytes of a rendered master playlist, or a storage key.

    Resolved in one short session, so that hours of copying to a slow disk hold no transaction."""
    sources: dict[str, bytes | str] = {}
    for path in paths:
        parts = path.split("/")
        if len(parts) == 2 and parts[1] == DOCUMENT_FILE:
            sources[path] = service.document_key(session, parts[0])
        elif len(parts) == 2 and parts[1].endswith(".m3u8"):
            # Rendered from the database exactly as its file list hashed it (manifest.build.file_list).
            text = service.master_playlist(session, parts[0], parts[1].removesuffix(".m3u8"))
            sources[path] = text.encode()
        else:  # media playlists, segments, posters: stored at their manifest path
            sources[path] = keys.hls_file(path)
    return sources


def _chunks(store: ObjectStore, source: bytes | str) -> Iterator[bytes]:
    if isinstance(source, bytes):
        yield source
        return
    stream = store.read(source)
    try:
        yield from stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _write(target: Path, chunks: Iterator[bytes]) -> tuple[int, str]:
    """Stream into a temporary file beside target and rename it over; size and hex SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + _PART)
    digest, size = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as f:
            for chunk in chunks:
                f.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


def _prune(files_dir: Path, keep: set[Path]) -> int:
    """Delete files under DIR/files that the manifest no longer lists (an older export's)."""
    removed = 0
    if not files_dir.is_dir():
        return 0
    for dirpath, _dirs, names in os.walk(files_dir, topdown=False):
        folder = Path(dirpath)
        for name in names:
            if folder / name not in keep:
                (folder / name).unlink()
                removed += 1
        if folder != files_dir and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def export_bundle(
    db: Database,
    store: ObjectStore,
    manifests: ManifestService,
    site_id: int,
    dest: Path,
    *,
    on: date | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write site `site_id`'s current manifest and every file it lists to `dest` (see the module)."""
    current = manifests.current(site_id, on or today_in_china())
    body = manifests.body(current, gzip=False)
    raw = b"".join(body.parts)
    doc: dict[str, Any] = json.loads(raw)
    digests = list_digests(doc)
    with db.session_scope() as session:
        rows = session.execute(select(FileList.sha256, FileList.body).where(FileList.sha256.in_(digests)))
        lists = {sha: bytes(text) for sha, text in rows}
    if len(lists) != len(digests):
        raise NotFound("delivery.manifest_content_gone")  # a list the manifest names is gone: ask again
    entries = site_files(doc, {sha: json.loads(text) for sha, text in lists.items()})
    dest.mkdir(parents=True, exist_ok=True)
    # A bundle whose files are being replaced must not look complete: the manifest goes last.
    for name in (MANIFEST, SIGNATURE):
        (dest / name).unlink(missing_ok=True)
    (dest / PUBLIC_KEY).write_text(manifests.public_key + "\n")
    lists_dir = dest / LISTS
    lists_dir.mkdir(exist_ok=True)
    for old in lists_dir.iterdir():
        if old.name.removesuffix(".json") not in lists:
            old.unlink()
    for sha, text in lists.items():
        _write(lists_dir / f"{sha}.json", iter([text]))
    files_dir = dest / FILES
    with db.session_scope() as session:
        sources = _sources(session, (e["path"] for e in entries))

    total = sum(int(e["size"]) for e in entries)
    done_bytes = written_files = written_bytes = 0
    wrong: list[str] = []
    keep: set[Path] = set()
    for n, entry in enumerate(entries, start=1):
        path, size, sha = entry["path"], int(entry["size"]), entry["sha256"]
        target = files_dir.joinpath(*_relative(path).parts)
        keep.add(target)
        if not (target.is_file() and target.stat().st_size == size and file_sha256(target) == sha):
            try:
                got_size, got_sha = _write(target, _chunks(store, sources[path]))
            except ObjectNotFound:
                wrong.append(path)  # missing from storage
                continue
            written_files += 1
            written_bytes += got_size
            if (got_size, got_sha) != (size, sha):
                target.unlink()
                wrong.append(f"{path}: {got_size} B, SHA-256 {got_sha[:12]}…")
                continue
        done_bytes += size
        if progress is not None:
            progress(n, len(entries), done_bytes, total)
    if wrong:
        listed = "\n  ".join(wrong[:20]) + ("\n  …" if len(wrong) > 20 else "")
        raise BundleError(
            "delivery.bundle_mismatch",
            wrong=len(wrong),
            files=len(entries),
            site_id=site_id,
            version=current.version,
            dest=str(dest),
            listed=listed,
        )
    removed = _prune(files_dir, keep)
    # The manifest is written only once every file is in place and verified.
    (dest / SIGNATURE).write_text(body.signature + "\n")
    (dest / MANIFEST).write_bytes(raw)
    if hasattr(os, "sync"):
        os.sync()  # a USB disk is unplugged as soon as the command returns
    return ExportResult(
        site_id=site_id,
        site_code=doc["site"]["code"],
        version=current.version,
        public_key=manifests.public_key,
        files=len(entries),
        total_bytes=total,
        written_files=written_files,
        written_bytes=written_bytes,
        removed_files=removed,
    )
