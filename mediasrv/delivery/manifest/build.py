"""Caching manifests: which programmes a terminal site must hold, and the file lists that say
exactly which files those are and how to verify them. Two levels, so that a site's manifest stays a
few kilobytes whatever the catalog, and a change costs what it touches.

A **file list** is one immutable document per published (asset, generation, presentation), named by
the SHA-256 of its bytes and served at /api/v1/file-lists/<sha256> (Cache-Control: immutable):

    asset_id        the asset
    files           [{path, sha256, size}] by path, relative to the asset's folder: the master
                    playlist, each listed rendition's playlist and segments, the poster; or a
                    document's PDF. A site keeps a file at <asset_id>/<path>, fetched from
                    /hls/<asset_id>/<path>, so the relative URIs inside playlists resolve in its copy
    format          1
    generation      the published generation ("" for a document)
    presentation    master | iptv | iptv-sd | document, or one language of a site's presentation:
                    master-<lang> (the phones' audio rendition and captions of that language only),
                    iptv-<lang> | iptv-sd-<lang> (the boxes' muxed variant of that language)

The mobile master's own list holds its video variants, the film's own sound and the Chinese captions;
its playlist still declares every language, and the site agent serves it naming only what it holds
(mediasrv.agent.serve): the file on disk stays the one the list's SHA-256 verifies.

It is written once, when a manifest first needs it (models.FileList), and its summary (bytes, file
count, digest, play, poster) is what builds reuse: no per-file work for what did not change.

A **site manifest** is one UTF-8 JSON document whose keys are sorted and which has no spaces, so that
the same state gives the same bytes (protocol.document.canonical reproduces it):

    bytes           size of all the files the site must hold
    device_profile  iptv | iptv-legacy | mobile | pc: which presentation the lists are
    dropped         [{id, title, required, bytes, code, reason, ...}] by id: programmes left out and
                    why: over_quota (optional ones the quota has no room for: need, left, quota
                    bytes) or no_rendition (nothing the profile plays: kind, profile); `reason` says
                    it in English for older agents. protocol.dropped describes them and says them
    file_count      how many files the lists name (each file once)
    format          2 (protocol.document.FORMAT)
    order           held programme ids, best first: required first, in curated order. The rank
                    lives here alone, so a rank change rewrites one array, not every entry
    over_quota      the required programmes alone need more than the quota
    pinned_bytes    bytes of the required programmes, which are never dropped
    programmes      [{id, required, title, category, duration_seconds, asset_id, play, poster,
                    attachments, bytes, files, lists, languages}] by id. `lists` is [{sha256, url,
                    bytes, files}]: the programme's own list, then its languages', then its
                    handouts'. `play`, `poster` and `attachments` (the handouts' play files) are
                    paths as the lists place them. `languages` [{language, name, play}], only when
                    the site holds some of the programme: each of the site's languages (its own,
                    Site.languages, else its nearest region's: sites.region_languages) that it has,
                    in that order, with what a player opens for it
    quota_bytes     the site's quota, or null
    schedule        the site's channel (issue 21), absent when no layer of its region has a schedule:
                    {timezone: "Asia/Shanghai", blocks, filler, card}. `blocks` [{id, weekday (ISO
                    1..7), start, end ("HH:MM" Beijing time, end up to "24:00"), title, required,
                    programmes (ids in play order), region (the layer that set it)}] by (weekday,
                    start), never overlapping: already layered (a nearer level's block wins where
                    blocks overlap; a cut block's piece has id "<block>@<start>"). `filler`: programme
                    ids looped outside the blocks; `card`: a still-card programme id, or null. Named
                    programmes come first after the required ones in `order`; one the quota leaves out
                    stays named here (the agent plays the next it holds). mediasrv.schedule makes it
    site            {id, code, name, download_window, bandwidth_kbps}: the agent obeys the last two
    version         the site's manifest version: +1 whenever anything above changes

The Ed25519 signature over a site manifest covers every list's digest, so an agent that checks the
signature and then each list's SHA-256 has verified every file it downloads.

Everything before "site" is the content, which depends only on the profile, the quota, the languages,
the study lists in force for the site's region, the schedules of its layers and the catalog: sites that share
those share one content (stored once, see ManifestContent). A delta (?since=N) carries the scalars
that changed (format, site and version always; "schedule" whole) and, per collection, the entries
added or changed (`added`, replacing by key) and the keys `removed`, plus `sha256`, the digest of the
current document's bytes; `apply_delta` turns the manifest of version N into the current one, which
the receiver checks against that digest. A key that is gone (the last schedule removed) cannot be said
by a delta: the store answers with the full manifest then.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mediasrv.catalog.models import Attachment, Programme
from mediasrv.delivery.manifest.models import FileList
from mediasrv.delivery.playlist import chosen_ids
from mediasrv.delivery.service import MOBILE, language_presentation, list_folders, render_presentation
from mediasrv.ingest.models import Asset, AssetFile, AssetKind, AssetStatus, captioned, list_version
from mediasrv.media import languages
from mediasrv.protocol.document import FORMAT, LIST_FORMAT, SIGNATURE_CONTEXT, canonical, list_url
from mediasrv.protocol.dropped import NO_RENDITION, OVER_QUOTA
from mediasrv.protocol.sizes import human_size
from mediasrv.schedule.service import site_week
from mediasrv.sites.models import Site
from mediasrv.sites.region_languages import site_languages
from mediasrv.storage import keys

DOCUMENT_FILE = "document.pdf"  # what a courseware PDF is called in a site's cache and its URL
DOCUMENT = "document"  # a document's presentation
# A stored mobile master list of before sites chose languages (it carried every language): re-keyed
# so by migration 0023, kept while a site's manifest names it, never built again.
RETIRED = "master~all"


# --- what one asset contributes: its file list ------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What a manifest needs of one file list; immutable for a published generation."""

    sha256: str
    size: int
    count: int
    play: str  # the file a player opens (site path): a master playlist, or the PDF
    poster: str | None

    def entry(self) -> dict[str, Any]:
        return {"bytes": self.size, "files": self.count, "sha256": self.sha256, "url": list_url(self.sha256)}


_PLAIN = re.compile(r"[A-Za-z0-9_./-]+")  # paths our pipeline writes: nothing JSON must escape
_HEX = re.compile(r"[0-9a-f]{64}")


def _entry(path: str, size: int, sha256: str) -> bytes:
    """One file's canonical JSON; formatted directly (a long film's list has thousands)."""
    if _PLAIN.fullmatch(path) and _HEX.fullmatch(sha256):
        return b'{"path":"%s","sha256":"%s","size":%d}' % (path.encode(), sha256.encode(), size)
    return canonical({"path": path, "sha256": sha256, "size": size})


FileRow = tuple[str, int, str]  # path relative to the asset's folder (keys.asset_path), size, SHA-256


def file_list(asset: Asset, presentation: str, files: Sequence[FileRow]) -> FileList | None:
    """The file list of a ready asset for `presentation` (master, iptv, iptv-sd; a language of one:
    master-bo, iptv-bo, iptv-sd-bo; document for a document asset), as a row to store; None when the
    asset has no such rendition. `files` are the asset's recorded files (AssetFile).

    A language's list carries that language's files alone (service.list_folders): no poster, and for
    master-<lang> no playlist of its own (the site's master names it); its `play` is what a player
    opens for that language."""
    gen = asset.published_generation
    entries: list[tuple[str, int, str]] = []
    poster = None
    play = presentation
    if asset.kind is AssetKind.DOCUMENT:
        source = next((f for f in files if f[0] == "source"), None)
        if source is None:
            return None
        entries.append((DOCUMENT_FILE, source[1], source[2]))
        play = DOCUMENT_FILE
    else:
        folders = list_folders(asset, presentation)
        if folders is None or gen is None:
            return None
        if presentation.startswith(f"{MOBILE}-"):
            play = f"{MOBILE}.m3u8"
        else:
            text = render_presentation(asset, presentation)
            if text is None:
                return None
            body = text.encode()
            play = f"{presentation}.m3u8"
            entries.append((play, len(body), hashlib.sha256(body).hexdigest()))
            if presentation_is_base(presentation):
                poster = keys.asset_path(asset.id, asset.poster_key) if asset.poster_key else None
        entries += [
            (path, size, sha) for path, size, sha in files if path.startswith(folders) or path == poster
        ]
    entries.sort()
    head = {
        "asset_id": asset.id,
        "format": LIST_FORMAT,
        "generation": gen or "",
        "presentation": presentation,
    }
    # Keys in canonical order: asset_id, files, format, generation, presentation.
    raw = b"".join(
        [
            b'{"asset_id":',
            canonical(head["asset_id"]),
            b',"files":[',
            b",".join(_entry(*e) for e in entries),
            b'],"format":%d,"generation":' % LIST_FORMAT,
            canonical(head["generation"]),
            b',"presentation":',
            canonical(presentation),
            b"}",
        ]
    )
    return FileList(
        sha256=hashlib.sha256(raw).hexdigest(),
        asset_id=asset.id,
        generation=asset.list_version(presentation),
        presentation=presentation,
        body=raw,
        size_bytes=sum(e[1] for e in entries),
        file_count=len(entries),
        play=f"{asset.id}/{play}",
        poster=f"{asset.id}/{poster}" if poster is not None else None,
    )


def presentation_is_base(presentation: str) -> bool:
    """A profile's own presentation (master, iptv, iptv-sd), not one language of it."""
    return presentation in ("master", "iptv", "iptv-sd")


@dataclass(frozen=True)
class AssetRef:
    """What a build needs of an asset to find its list: plain columns, no ORM object."""

    id: str
    kind: AssetKind
    ready: bool
    generation: str  # the published one, "" when none
    subtitles_version: str | None = None  # the published caption set (Asset.list_version)

    def version(self, presentation: str) -> str:
        """FileList.generation of this asset's list of `presentation`."""
        return list_version(self.generation, self.subtitles_version if captioned(presentation) else None)


def _summary(row: FileList) -> Summary:
    return Summary(row.sha256, row.size_bytes, row.file_count, row.play, row.poster)


class Summaries:
    """File-list summaries by (asset, generation, presentation), in memory, from the database, or
    made (and stored) when a manifest first needs them. A generation's files never change, so entries
    never go stale; the bound only caps memory. Made lists are remembered only once read back from
    the database: a transaction rolled back must not leave a digest that names no stored list."""

    def __init__(self, limit: int = 50_000) -> None:
        self._limit = limit
        self._entries: dict[tuple[str, str, str], Summary | None] = {}

    def get(
        self, session: Session, assets: Iterable[AssetRef], presentation: str
    ) -> dict[str, Summary | None]:
        found: dict[str, Summary | None] = {}
        missing: dict[str, str] = {}  # asset id -> list version (its generation, and caption set)
        for asset in assets:
            key = (asset.id, asset.version(presentation), presentation)
            if key in self._entries:
                found[asset.id] = self._entries[key]
            elif not asset.ready:
                found[asset.id] = None
            else:
                missing[asset.id] = asset.version(presentation)
        if not missing:
            return found
        query = select(
            FileList.asset_id,
            FileList.generation,
            FileList.sha256,
            FileList.size_bytes,
            FileList.file_count,
            FileList.play,
            FileList.poster,
        ).where(FileList.asset_id.in_(missing), FileList.presentation == presentation)
        for asset_id, gen, sha, size, count, play, poster in session.execute(query):
            if missing.get(asset_id) == gen:
                found[asset_id] = self._remember(
                    (asset_id, gen, presentation), Summary(sha, size, count, play, poster)
                )
                del missing[asset_id]
        if missing:
            found |= self._make(session, list(missing), presentation)
        return found

    def _remember(self, key: tuple[str, str, str], summary: Summary | None) -> Summary | None:
        if len(self._entries) >= self._limit:
            self._entries.clear()  # crude but bounded; refilled from the database
        self._entries[key] = summary
        return summary

    def _make(self, session: Session, missing: list[str], presentation: str) -> dict[str, Summary | None]:
        loaded = list(
            session.scalars(
                select(Asset).where(Asset.id.in_(missing)).options(selectinload(Asset.renditions))
            )
        )
        # Files only of assets that have such a list: most films have no Tibetan track, and a film has
        # thousands of files. Plain rows, not ORM objects.
        listed = [
            a.id
            for a in loaded
            if a.status is AssetStatus.READY
            and (a.kind is AssetKind.DOCUMENT or list_folders(a, presentation) is not None)
        ]
        rows: dict[str, list[FileRow]] = {asset_id: [] for asset_id in missing}
        query = select(AssetFile.asset_id, AssetFile.path, AssetFile.size_bytes, AssetFile.sha256)
        if listed:
            for asset_id, path, size, sha in session.execute(query.where(AssetFile.asset_id.in_(listed))):
                rows[asset_id].append((path, size, sha))
        made: dict[str, Summary | None] = {}
        for asset in loaded:
            row = file_list(asset, presentation, rows[asset.id]) if asset.id in listed else None
            if row is None:  # nothing to store: remembered at once
                made[asset.id] = self._remember(
                    (asset.id, asset.list_version(presentation), presentation), None
                )
                continue
            if session.get(FileList, row.sha256) is None:
                session.add(row)
            made[asset.id] = _summary(row)
        session.flush()
        return made


# --- the content of a site's manifest ---------------------------------------------------------


@dataclass(frozen=True)
class Content:
    """A manifest without its site part: `raw` is the document up to (not including) ',"site"'."""

    raw: bytes
    sha256: str
    total_bytes: int
    file_count: int
    over_quota: bool


@dataclass(frozen=True)
class _Chosen:
    id: str
    required: bool
    title: str
    category: str
    duration_seconds: float | None
    asset: AssetRef | None
    attachments: list[AssetRef]


def _chosen(session: Session, site: Site, on: date, scheduled: Sequence[str]) -> list[_Chosen]:
    """The site's programmes (playlist.chosen_ids) with what the manifest says of them, in two plain
    queries: loading thousands of ORM objects would cost more than all the rest of a build."""
    chosen = chosen_ids(session, site, on=on, scheduled=scheduled)
    ids = [i for i, _ in chosen]
    rows = {
        row.id: row
        for row in session.execute(
            select(
                Programme.id,
                Programme.title,
                Programme.category_code,
                Programme.asset_id,
                Asset.kind,
                Asset.status,
                Asset.published_generation,
                Asset.subtitles_version,
                Asset.duration_seconds,
            )
            .outerjoin(Asset, Asset.id == Programme.asset_id)
            .where(Programme.id.in_(ids))
        )
    }
    handouts: dict[str, list[AssetRef]] = {}
    for programme_id, asset_id, kind, status, gen in session.execute(
        select(
            Attachment.programme_id, Attachment.asset_id, Asset.kind, Asset.status, Asset.published_generation
        )
        .join(Asset, Asset.id == Attachment.asset_id)
        .where(Attachment.programme_id.in_(ids))
        .order_by(Attachment.programme_id, Attachment.position)
    ):
        handouts.setdefault(programme_id, []).append(
            AssetRef(asset_id, kind, status is AssetStatus.READY, gen or "")
        )
    found = []
    for programme_id, required in chosen:
        row = rows[programme_id]
        asset = (
            AssetRef(
                row.asset_id,
                row.kind,
                row.status is AssetStatus.READY,
                row.published_generation or "",
                row.subtitles_version,
            )
            if row.asset_id is not None and row.kind is not None
            else None
        )
        found.append(
            _Chosen(
                programme_id,
                required,
                row.title,
                row.category_code,
                row.duration_seconds,
                asset,
                handouts.get(programme_id, []),
            )
        )
    return found


def build_content(
    session: Session,
    site: Site,
    *,
    on: date,
    summaries: Summaries | None = None,
    held_languages: Sequence[str] | None = None,
) -> Content:
    """Choose the programmes a site keeps on a day and name their file lists (see the module's doc).
    `held_languages`: the site's effective ones when the caller has them (the service, from its map
    of the regions' languages); else read here (region_languages.site_languages)."""
    if held_languages is None:
        held_languages = site_languages(session, site)
    schedule = site_week(session, site, on=on)
    chosen = _chosen(session, site, on, schedule.programme_ids())
    presentation = site.device_profile.presentation
    assets: dict[str, AssetRef] = {}
    for programme in chosen:
        if programme.asset is not None:
            assets[programme.asset.id] = programme.asset
        for handout in programme.attachments:
            assets[handout.id] = handout
    cache = summaries or Summaries()
    media = [a for a in assets.values() if a.kind is not AssetKind.DOCUMENT]
    main = cache.get(session, media, presentation)
    main |= cache.get(session, [a for a in assets.values() if a.kind is AssetKind.DOCUMENT], DOCUMENT)
    # Each language the site chose travels in a list of its own: shared by every site choosing it.
    spoken = {
        lang: cache.get(session, media, language_presentation(presentation, lang)) for lang in held_languages
    }

    quota = site.quota_bytes
    held: dict[str, Summary] = {}  # list digest -> the list, each counted once (shared handouts)
    used = pinned = 0
    programmes: list[dict[str, Any]] = []
    order: list[str] = []
    dropped: list[dict[str, Any]] = []
    for programme in chosen:
        asset_id = programme.asset.id if programme.asset is not None else ""
        own = main.get(asset_id)
        base = {"id": programme.id, "required": programme.required, "title": programme.title}
        if own is None:
            kind = programme.asset.kind.value if programme.asset is not None else "missing"
            reason = (
                f"no {presentation} rendition for this profile ({site.device_profile.value}): it is a {kind}"
            )
            dropped.append(
                {
                    **base,
                    "bytes": 0,
                    "code": NO_RENDITION,
                    "kind": kind,
                    "profile": site.device_profile.value,
                    "reason": reason,
                }
            )
            continue
        parts = {own.sha256: own}
        tracks = [
            (lang, found) for lang, lists in spoken.items() if (found := lists.get(asset_id)) is not None
        ]
        parts |= {summary.sha256: summary for _, summary in tracks}
        handouts = list(
            {s.sha256: s for h in programme.attachments if (s := main.get(h.id)) is not None}.values()
        )
        parts |= {summary.sha256: summary for summary in handouts}
        need = sum(p.size for sha, p in parts.items() if sha not in held)
        total = sum(p.size for p in parts.values())
        if not programme.required and quota is not None and used + need > quota:
            left = max(0, quota - used)
            reason = f"over quota: needs {human_size(need)}, {human_size(left)} of {human_size(quota)} left"
            numbers = {"need": need, "left": left, "quota": quota}
            dropped.append({**base, "bytes": total, "code": OVER_QUOTA, **numbers, "reason": reason})
            continue
        held.update(parts)
        used += need
        pinned += need if programme.required else 0
        order.append(programme.id)
        # Only where the site has some: a site without languages keeps the entries it had.
        named = {"languages": [_language(lang, s.play) for lang, s in tracks]} if tracks else {}
        programmes.append(
            {
                **named,
                **base,
                "category": programme.category,
                "duration_seconds": round(programme.duration_seconds, 3)
                if programme.duration_seconds is not None
                else None,
                "asset_id": asset_id,
                "play": own.play,
                "poster": own.poster,
                "attachments": [h.play for h in handouts],
                "bytes": total,
                "files": sum(p.count for p in parts.values()),
                "lists": [p.entry() for p in parts.values()],
            }
        )
    over_quota = quota is not None and pinned > quota
    file_count = sum(p.count for p in held.values())
    raw = b"".join(
        [
            b'{"bytes":%d,"device_profile":' % used,
            canonical(site.device_profile.value),
            b',"dropped":',
            canonical(sorted(dropped, key=lambda d: d["id"])),
            b',"file_count":%d,"format":%d,"order":' % (file_count, FORMAT),
            canonical(order),
            b',"over_quota":',
            canonical(over_quota),
            b',"pinned_bytes":%d,"programmes":' % pinned,
            canonical(sorted(programmes, key=lambda p: p["id"])),
            b',"quota_bytes":',
            canonical(quota),
        ]
    )
    channel = schedule.document()
    if channel is not None:  # absent otherwise: a site without one keeps the bytes it had
        raw += b',"schedule":' + canonical(channel)
    return Content(
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        total_bytes=used,
        file_count=file_count,
        over_quota=over_quota,
    )


def _language(lang: str, play: str) -> dict[str, str]:
    """A language a site holds of a programme: its tag, Chinese name, and what a player opens for it
    (a box's muxed variant "iptv-bo.m3u8"; the phones' master, whose menu offers it)."""
    return {"language": lang, "name": languages.name(lang), "play": play}


def site_head(site: Site, version: int) -> bytes:
    """The end of a site's document: its identity, the settings its agent obeys, and the version."""
    part = {
        "bandwidth_kbps": site.bandwidth_kbps,
        "code": site.code,
        "download_window": site.download_window,
        "id": site.id,
        "name": site.name,
    }
    return b',"site":' + canonical(part) + b',"version":%d}' % version


def build_document(session: Session, site: Site, *, on: date, version: int = 1) -> bytes:
    """A site's whole manifest, uncached (tests, benchmarks; the service caches and versions it)."""
    return build_content(session, site, on=on).raw + site_head(site, version)


# --- signatures and stitched gzip -------------------------------------------------------------


def manifest_key(secret: bytes) -> Ed25519PrivateKey:
    """The Ed25519 key manifests are signed with, derived from the server secret (so that every API
    process signs alike, and the same state gives the same signature)."""
    seed = hmac.new(secret, b"mediasrv manifest signing key v1", hashlib.sha256).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def sign(key: Ed25519PrivateKey, sha256_hex: str) -> str:
    """Signature over SIGNATURE_CONTEXT + the hex SHA-256 of the exact uncompressed body."""
    return base64.b64encode(key.sign(SIGNATURE_CONTEXT + sha256_hex.encode())).decode()


# A gzip member is a header, one deflate stream and a trailer (CRC-32, length). Deflate blocks ended
# with a sync flush end on a byte boundary, so independently compressed pieces concatenate into one
# stream; an empty final block closes it (what pigz does).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0: deterministic
_FINAL_BLOCK = b"\x03\x00"


def deflate_piece(data: bytes, level: int = 6) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def gzip_parts(pieces: Sequence[bytes], *, crc32: int, size: int) -> list[bytes]:
    """A gzip member from raw-deflate pieces (see deflate_piece) of a body with this CRC and size."""
    return [
        GZIP_HEADER,
        *pieces,
        _FINAL_BLOCK,
        (crc32 & 0xFFFFFFFF).to_bytes(4, "little"),
        (size & 0xFFFFFFFF).to_bytes(4, "little"),
    ]


def inflate_piece(data: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(data)
