"""Per-site manifest versions: built once per change, kept precompressed, polled from memory; and
the file lists they name, served by digest to the sites whose manifest names them.

Freshness costs one number: the manifest epoch (bumped by every change that can alter a manifest) is
read at most once per `check_seconds` by each process. A site whose manifest was checked at the
current epoch today is answered from memory, 304 or body, without a query. Otherwise the site's
content is built (shared by every site with the same profile, quota, languages and study lists at this epoch),
and a new version is written only when the document differs. The first poll of a content after a
change also brings every other site of that content that has a manifest up to date, in one query and
two statements, and keeps them in memory: a publication costs a transaction per content, not per site.

A body is never compressed per request: the content is stored raw-deflated once, each version's
small head is deflated once, and a response is the two stitched into one gzip member (see
build.gzip_parts). SHA-256 and CRC-32 of a document are the content's, continued over the head.
A content is a few kilobytes since format 2 (the files are in the lists), so many stay in memory.
"""

from __future__ import annotations

import gzip as gzip_format
import hashlib
import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, and_, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.catalog.models import Programme, ProgrammeStatus
from mediasrv.db import Database
from mediasrv.delivery.manifest import build
from mediasrv.delivery.manifest.models import FileList, ManifestContent, SiteManifest, SiteManifestState
from mediasrv.ingest.models import Asset
from mediasrv.kit.errors import NotFound, TryAgain
from mediasrv.kit.regions import within
from mediasrv.protocol.document import FORMAT, canonical, diff, list_digests
from mediasrv.schedule.service import schedule_regions
from mediasrv.sites import region_languages
from mediasrv.sites.models import Site
from mediasrv.study.lists import lists_in_force, region_matches
from mediasrv.study.models import StudyKind

K = TypeVar("K")
V = TypeVar("V")
KEEP_VERSIONS = 50  # per site; a ?since= older than that gets the full manifest


class LRU(Generic[K, V]):
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def collect_garbage(db: Database) -> int:
    """Delete contents that no kept version points at (sites keep KEEP_VERSIONS each); how many."""
    with db.session_scope() as session:
        used = select(SiteManifest.content_sha256).distinct()
        result = session.execute(delete(ManifestContent).where(ManifestContent.sha256.not_in(used)))
        return int(cast(CursorResult[Any], result).rowcount)


def collect_file_lists(db: Database) -> int:
    """Delete file lists that no kept manifest version names (a site may still hold any of the last
    KEEP_VERSIONS, or ask a delta from it, and fetch the lists it names) and whose (asset, generation)
    is no longer the asset's published one (re-transcoded, or the asset gone); how many.

    A list of an asset's current generation stays even when no version names it (its programme
    withdrawn, say): every API process's build.Summaries may hand its digest to a new manifest without
    reading the row, and a generation, once replaced, is never asked for again. That is at most one list
    per presentation of each asset, a few kilobytes each."""
    with db.session_scope() as session:
        current = exists().where(
            Asset.id == FileList.asset_id,
            func.coalesce(Asset.published_generation, "") == FileList.generation,
            FileList.presentation != build.RETIRED,  # a whole-language list of before 0023: never built again
        )
        unused = set(session.scalars(select(FileList.sha256).where(~current)))
        if not unused:
            return 0
        for doc in kept_documents(session):
            unused.difference_update(list_digests(doc))
            if not unused:
                return 0
        gone = sorted(unused)
        for start in range(0, len(gone), 500):  # bound the IN list
            session.execute(delete(FileList).where(FileList.sha256.in_(gone[start : start + 500])))
        return len(gone)


def kept_documents(session: Session) -> Iterator[dict[str, Any]]:
    """Every content a kept manifest version points at, as a document (less its head: site, version)."""
    kept = select(SiteManifest.content_sha256).distinct()
    contents = select(ManifestContent.deflated).where(ManifestContent.sha256.in_(kept))
    for deflated in session.scalars(contents.execution_options(yield_per=100)):
        yield json.loads(build.inflate_piece(deflated) + b"}")  # a content is the document less its head


@dataclass(frozen=True)
class StoredContent:
    """A content in memory: its deflated bytes, and SHA-256 and CRC-32 states to continue."""

    deflated: bytes
    raw_size: int
    sha: Any  # hashlib object over the raw bytes, copied to continue over a head
    crc32: int

    @classmethod
    def of_raw(cls, raw: bytes, deflated: bytes | None = None) -> StoredContent:
        return cls(
            deflated=deflated if deflated is not None else build.deflate_piece(raw),
            raw_size=len(raw),
            sha=hashlib.sha256(raw),
            crc32=zlib.crc32(raw),
        )


@dataclass(frozen=True)
class Current:
    """What answering a poll for one site's manifest needs, all in memory."""

    site_id: int
    version: int
    epoch: int
    built_on: date
    content_sha256: str
    head: bytes
    head_deflated: bytes
    sha256: str
    crc32: int
    size: int
    signature: str
    total_bytes: int
    file_count: int
    over_quota: bool

    @property
    def etag(self) -> str:
        # Weak: the gzip and the plain body share it (RFC 9110 wants strong tags to differ).
        return f'W/"{self.version}-{self.sha256[:20]}"'


@dataclass(frozen=True)
class Body:
    """A response body: gzip parts (or plain bytes), its SHA-256 signature, and what it is."""

    parts: list[bytes]
    gzip: bool
    signature: str
    version: int
    etag: str
    kind: str  # "full" or "delta"


@dataclass(frozen=True)
class FileListBody:
    """A file list as served: gzipped once, and whose asset it lists."""

    sha256: str
    asset_id: str
    gzipped: bytes

    @property
    def etag(self) -> str:
        return f'W/"{self.sha256}"'  # weak: the gzip and the plain body share it


def _columns(row: SiteManifest) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in SiteManifest.__table__.columns}


class ManifestService:
    def __init__(self, db: Database, secret: bytes, watch: epochs.EpochWatch) -> None:
        self.db = db
        self.key = build.manifest_key(secret)
        self.public_key = build.public_key_b64(self.key)
        self._watch = watch
        self._sites: dict[int, Current] = {}
        self._contents: LRU[str, StoredContent] = LRU(256)  # ~100 KB each deflated at 500 programmes
        # class key -> (content sha, (bytes, file count, over quota))
        self._classes: LRU[tuple[Any, ...], tuple[str, tuple[int, int, bool]]] = LRU(4096)
        self._study_lists: LRU[tuple[int, date], list[tuple[int, tuple[str, ...]]]] = LRU(8)
        self._published_regions: LRU[int, list[str]] = LRU(8)  # epoch -> regions published to
        self._schedule_regions: LRU[int, list[str]] = LRU(8)  # epoch -> regions with a schedule
        # epoch -> the regions that set languages (few): a site's are resolved in memory, not per query
        self._region_languages: LRU[int, dict[str, tuple[str, ...]]] = LRU(8)
        self._summaries = build.Summaries()
        self._deltas: LRU[tuple[int, int, int, bool], Body] = LRU(2048)
        # content sha -> parsed content (deltas), and the file lists it names (who may fetch which)
        self._parsed: LRU[str, dict[str, Any]] = LRU(64)
        self._named: LRU[str, frozenset[str]] = LRU(4096)
        self._lists: LRU[str, FileListBody] = LRU(4096)
        # Class keys whose sites alike this process has brought up to date (see _alike).
        self._batched: LRU[tuple[Any, ...], bool] = LRU(4096)
        self._build_lock = threading.Lock()

    # --- the poll path ------------------------------------------------------------------------

    def cached(self, site_id: int, on: date) -> Current | None:
        """The site's current manifest when memory knows it is current; None when it must be built
        or checked (by `current`, off the event loop). Never queries."""
        current = self._sites.get(site_id)
        if current is None or current.built_on != on or current.epoch != self._watch.peek(epochs.MANIFESTS):
            return None  # unknown, another day, changed, or the epoch is due a re-read
        return current

    def current(self, site_id: int, on: date) -> Current:
        """The site's current manifest, built (or brought up to date) when needed. Blocking."""
        epoch = self._watch.get(epochs.MANIFESTS)
        current = self._sites.get(site_id)
        if current is not None and current.epoch == epoch and current.built_on == on:
            return current
        with self._build_lock:  # one build at a time per process: later ones find it done
            current = self._sites.get(site_id)
            if current is not None and current.epoch == epoch and current.built_on == on:
                return current
            for _ in range(3):
                try:
                    current, alike = self._refresh(site_id, on)
                except IntegrityError:  # another process wrote the same version first: read it
                    continue
                for other in alike:  # committed: their next poll is answered from memory
                    self._sites[other.site_id] = other
                self._sites[site_id] = current
                return current
        raise TryAgain("delivery.manifest_changed")

    def body(self, current: Current, *, gzip: bool) -> Body:
        content = self._content(current.content_sha256)
        if gzip:
            parts = build.gzip_parts(
                [content.deflated, current.head_deflated], crc32=current.crc32, size=current.size
            )
        else:
            parts = [build.inflate_piece(content.deflated), current.head]
        return Body(parts, gzip, current.signature, current.version, current.etag, "full")

    def delta(self, current: Current, since: int, *, gzip: bool) -> Body:
        """From version `since` to `current`; the full manifest when `since` is unknown or too old."""
        cache_key = (current.site_id, since, current.version, gzip)
        cached = self._deltas.get(cache_key)
        if cached is not None:
            return cached
        with self.db.session_scope() as session:
            old = session.get(SiteManifest, (current.site_id, since))
            old_head = old.head if old is not None else None
            old_sha = old.content_sha256 if old is not None else None
        if old_head is None or old_sha is None or since > current.version:
            return self.body(current, gzip=gzip)
        before = self._document(old_sha, old_head.encode())
        after = self._document(current.content_sha256, current.head)
        if before.get("format") != after.get("format"):  # a site upgrading from format 1
            return self.body(current, gzip=gzip)
        if set(before) - set(after):  # a key gone (the last schedule removed): a delta cannot say so
            return self.body(current, gzip=gzip)
        raw = canonical(diff(before, after, sha256=current.sha256))
        sha = hashlib.sha256(raw).hexdigest()
        parts = build.gzip_parts([build.deflate_piece(raw)], crc32=zlib.crc32(raw), size=len(raw))
        result = Body(
            parts if gzip else [raw],
            gzip,
            build.sign(self.key, sha),
            current.version,
            current.etag,
            "delta",
        )
        self._deltas.put(cache_key, result)
        return result

    def left_out(self, current: Current) -> dict[str, Any]:
        """The current manifest's `dropped` entries and its quota figures, as the pages say them."""
        doc = self._parse(current.content_sha256)
        keys = ("bytes", "dropped", "over_quota", "pinned_bytes", "quota_bytes")
        return {key: doc.get(key) for key in keys}

    # --- file lists -----------------------------------------------------------------------------

    def named_lists(self, current: Current) -> frozenset[str]:
        """The file lists a site's current manifest names: the ones that site may fetch."""
        named = self._named.get(current.content_sha256)
        if named is None:
            doc = self._parse(current.content_sha256)
            named = frozenset(list_digests(doc)) if doc.get("format") == FORMAT else frozenset()
            self._named.put(current.content_sha256, named)
        return named

    def file_list(self, sha256: str) -> FileListBody | None:
        """A stored file list by its digest (immutable: memory keeps it), or None."""
        found = self._lists.get(sha256)
        if found is None:
            with self.db.session_scope() as session:
                row = session.get(FileList, sha256)
                if row is None:
                    return None
                gzipped = gzip_format.compress(row.body, compresslevel=6, mtime=0)
                found = FileListBody(row.sha256, row.asset_id, gzipped)
            self._lists.put(sha256, found)
        return found

    # --- building -----------------------------------------------------------------------------

    def languages(self, session: Session, site: Site, epoch: int) -> tuple[str, ...]:
        """The site's effective languages (its own, else its nearest region's) at `epoch`."""
        regions = self._region_languages.get(epoch)
        if regions is None:
            regions = region_languages.region_map(session)
            self._region_languages.put(epoch, regions)
        return region_languages.effective(site, regions).languages

    def class_key(self, session: Session, site: Site, epoch: int, on: date) -> tuple[Any, ...]:
        """What a site's content depends on besides the catalog at `epoch`: sites alike share it."""
        in_force = self._study_lists.get((epoch, on))
        if in_force is None:
            in_force = [
                (study_list.id, tuple(study_list.regions))
                for kind in (StudyKind.REQUIRED, StudyKind.OPTIONAL)
                for study_list in lists_in_force(session, kind=kind, on=on)
            ]
            self._study_lists.put((epoch, on), in_force)
        lists = tuple(i for i, regions in in_force if region_matches(site.region, regions))
        published = self._published_regions.get(epoch)
        if published is None:
            published = sorted(
                session.scalars(
                    select(Programme.region).where(Programme.status == ProgrammeStatus.PUBLISHED).distinct()
                )
            )
            self._published_regions.put(epoch, published)
        # Local programmes: sites alike also stand under the same regions published to (two counties'
        # sites with the same lists differ once either county has a film of its own).
        local = tuple(r for r in published if within(site.region, r))
        scheduled = self._schedule_regions.get(epoch)
        if scheduled is None:
            scheduled = schedule_regions(session)
            self._schedule_regions.put(epoch, scheduled)
        # The channel: sites alike also share the layers whose schedules they play.
        channel = tuple(r for r in scheduled if within(site.region, r))
        return (
            epoch,
            on,
            site.device_profile,
            site.quota_bytes,
            self.languages(session, site, epoch),
            lists,
            local,
            channel,
        )

    def _refresh(self, site_id: int, on: date) -> tuple[Current, list[Current]]:
        """The site's current manifest, and, the first time this process meets its class at this
        epoch, those of the other sites alike (see _alike); written in one transaction."""
        with self.db.session_scope() as session:
            # Read first: a change committed after this read bumps it again, so nothing is missed.
            epoch = epochs.read(session).get(epochs.MANIFESTS, 0)
            site = session.get(Site, site_id)
            if site is None:
                raise NotFound("sites.no_site", site_id=site_id)
            key = self.class_key(session, site, epoch, on)
            known = self._classes.get(key)
            stored = self._contents.get(known[0]) if known is not None else None
            if known is not None and stored is None:  # evicted from memory: its stored row, if any
                stored = self._stored(session, known[0])
            if known is not None and stored is not None:
                sha, summary = known
            else:
                content = build.build_content(
                    session,
                    site,
                    on=on,
                    summaries=self._summaries,
                    held_languages=self.languages(session, site, epoch),
                )
                sha = content.sha256
                stored = self._contents.get(sha)
                if stored is None:
                    saved = session.get(ManifestContent, sha)
                    stored = StoredContent.of_raw(content.raw, saved.deflated if saved is not None else None)
                    if saved is None:
                        session.add(
                            ManifestContent(sha256=sha, deflated=stored.deflated, raw_size=stored.raw_size)
                        )
                    self._contents.put(sha, stored)
                summary = (content.total_bytes, content.file_count, content.over_quota)
                self._classes.put(key, (sha, summary))
            state = session.get(SiteManifestState, site_id)
            latest = session.get(SiteManifest, (site_id, state.version)) if state is not None else None
            found = self._version(session, site, state, latest, sha, stored, summary, epoch, on)
            written = [site_id] if found in session.new else []
            alike: list[Mapping[str, Any]] = []
            if self._batched.get(key) is None:
                alike, others = self._alike(session, site, key, sha, stored, summary, epoch, on)
                written += others
            if written:
                self._forget_old(session, written)
            result = (
                self._current_of(_columns(found), epoch, on),
                [self._current_of(r, epoch, on) for r in alike],
            )
        self._batched.put(key, True)  # committed; rolled back, the retry does it again
        return result

    def _version(
        self,
        session: Session,
        site: Site,
        state: SiteManifestState | None,
        latest: SiteManifest | None,
        sha: str,
        stored: StoredContent,
        summary: tuple[int, int, bool],
        epoch: int,
        on: date,
    ) -> SiteManifest:
        """The site's latest version when its document is unchanged (nothing written); otherwise a
        new version (+1) added to the session and its state moved on (versions beyond KEEP_VERSIONS:
        _forget_old)."""
        if (
            latest is not None
            and latest.content_sha256 == sha
            and latest.head == build.site_head(site, latest.version).decode()
        ):
            return latest  # unchanged: nothing to write
        version = (state.version if state is not None else 0) + 1
        row = SiteManifest(**self._values(site, version, sha, stored, summary))
        session.add(row)
        if state is None:
            session.add(SiteManifestState(site_id=site.id, version=version, epoch=epoch, built_on=on))
        else:
            state.version, state.epoch, state.built_on = version, epoch, on
        return row

    def _values(
        self, site: Site, version: int, sha: str, stored: StoredContent, summary: tuple[int, int, bool]
    ) -> dict[str, Any]:
        """A new version's row: the site's head after the content, its digests continued, signed."""
        head = build.site_head(site, version)
        digest = stored.sha.copy()
        digest.update(head)
        sha256 = digest.hexdigest()
        return {
            "site_id": site.id,
            "version": version,
            "content_sha256": sha,
            "head": head.decode(),
            "sha256": sha256,
            "crc32": zlib.crc32(head, stored.crc32),
            "size": stored.raw_size + len(head),
            "signature": build.sign(self.key, sha256),
            "total_bytes": summary[0],
            "file_count": summary[1],
            "over_quota": summary[2],
        }

    def _alike(
        self,
        session: Session,
        site: Site,
        key: tuple[Any, ...],
        sha: str,
        stored: StoredContent,
        summary: tuple[int, int, bool],
        epoch: int,
        on: date,
    ) -> tuple[list[Mapping[str, Any]], list[int]]:
        """The current versions of the other sites of `site`'s class (same content at this epoch)
        that have a manifest already, with a new version written where their document changed (in
        one INSERT and one UPDATE for them all); and which sites got one.

        After a change, each site's first poll used to cost its own transaction (reads, a row, a
        commit: ~11 ms, most of it the commit); here the whole class costs one query and two
        statements, and their polls are answered from memory. Sites that never polled are left to
        their first poll (no rows for sites that may never come)."""
        limit = site.quota_bytes
        quota = Site.quota_bytes.is_(None) if limit is None else Site.quota_bytes == limit
        query = (
            select(Site, *SiteManifest.__table__.columns)
            .join(SiteManifestState, SiteManifestState.site_id == Site.id)
            .join(
                SiteManifest,
                and_(SiteManifest.site_id == Site.id, SiteManifest.version == SiteManifestState.version),
            )
            .where(Site.device_profile == site.device_profile, quota, Site.id != site.id)
        )
        found: list[Mapping[str, Any]] = []
        new: list[dict[str, Any]] = []
        for row in session.execute(query):
            other, latest = row[0], row._mapping
            if self.class_key(session, other, epoch, on) != key:
                continue
            if (
                latest["content_sha256"] == sha
                and latest["head"] == build.site_head(other, latest["version"]).decode()
            ):
                found.append(dict(latest))  # unchanged: nothing to write
            else:
                new.append(self._values(other, latest["version"] + 1, sha, stored, summary))
        if new:
            session.execute(insert(SiteManifest), new)
            session.execute(
                update(SiteManifestState),
                [
                    {"site_id": v["site_id"], "version": v["version"], "epoch": epoch, "built_on": on}
                    for v in new
                ],
            )
        return [*found, *new], [v["site_id"] for v in new]

    @staticmethod
    def _forget_old(session: Session, site_ids: list[int]) -> None:
        """Delete the sites' versions older than the KEEP_VERSIONS last, a statement per 500 sites."""
        session.flush()  # the new versions and states first
        state = select(SiteManifestState.version).where(SiteManifestState.site_id == SiteManifest.site_id)
        for start in range(0, len(site_ids), 500):  # bound the IN list
            session.execute(
                delete(SiteManifest)
                .where(
                    SiteManifest.site_id.in_(site_ids[start : start + 500]),
                    SiteManifest.version <= state.scalar_subquery() - KEEP_VERSIONS,
                )
                .execution_options(synchronize_session=False)
            )

    def _current_of(self, row: Mapping[str, Any], epoch: int, on: date) -> Current:
        """What polls need of a version (a SiteManifest's columns by name)."""
        head = row["head"].encode()
        return Current(
            site_id=row["site_id"],
            version=row["version"],
            epoch=epoch,
            built_on=on,
            content_sha256=row["content_sha256"],
            head=head,
            head_deflated=build.deflate_piece(head),
            sha256=row["sha256"],
            crc32=row["crc32"],
            size=row["size"],
            signature=row["signature"],
            total_bytes=row["total_bytes"],
            file_count=row["file_count"],
            over_quota=row["over_quota"],
        )

    def _stored(self, session: Session, sha: str) -> StoredContent | None:
        row = session.get(ManifestContent, sha)
        if row is None:
            return None
        stored = StoredContent.of_raw(build.inflate_piece(row.deflated), row.deflated)
        self._contents.put(sha, stored)
        return stored

    def _content(self, sha: str) -> StoredContent:
        stored = self._contents.get(sha)
        if stored is None:
            with self.db.session_scope() as session:
                row = session.get(ManifestContent, sha)
                if row is None:
                    raise NotFound("delivery.manifest_content_gone")
                deflated = row.deflated
            stored = StoredContent.of_raw(build.inflate_piece(deflated), deflated)
            self._contents.put(sha, stored)
        return stored

    def _parse(self, sha: str) -> dict[str, Any]:
        parsed = self._parsed.get(sha)
        if parsed is None:
            raw = build.inflate_piece(self._content(sha).deflated)
            parsed = json.loads(raw + b"}")
            self._parsed.put(sha, parsed)
        return parsed

    def _document(self, sha: str, head: bytes) -> dict[str, Any]:
        return {**self._parse(sha), **json.loads(b"{" + head[1:])}
