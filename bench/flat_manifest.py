"""Today's flat manifest (format 1, every file of every programme in the site's document), frozen
as the baseline bench/sites.py measures format 2 against: a copy of
mediasrv/delivery/manifest/build.py as it was before the two-level manifests (issue 18), so that the
comparison keeps running whatever the server's builder becomes. Not used by the server.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mediasrv.delivery.playlist import chosen_programmes
from mediasrv.delivery.service import presentation_renditions, render_presentation
from mediasrv.ingest.models import Asset, AssetFile, AssetKind, AssetStatus
from mediasrv.protocol.document import canonical
from mediasrv.protocol.sizes import human_size
from mediasrv.sites.models import Site
from mediasrv.storage import keys

DOCUMENT_FILE = "document.pdf"
FORMAT = 1


# --- what one asset contributes --------------------------------------------------------------


@dataclass(frozen=True)
class Pieces:
    """The files one asset contributes in one presentation: canonical JSON entries, sorted by path,
    joined by commas, ready to be spliced into a manifest. Immutable for a published generation."""

    fragment: bytes
    size: int
    count: int
    play: str  # the file a player opens: a master playlist, or the PDF
    poster: str | None


_PLAIN = re.compile(r"[A-Za-z0-9_./-]+")  # paths our pipeline writes: nothing JSON must escape
_HEX = re.compile(r"[0-9a-f]{64}")


def _entry(path: str, size: int, sha256: str) -> bytes:
    """One file's canonical JSON; formatted directly (a manifest lists ~100,000 of them)."""
    if _PLAIN.fullmatch(path) and _HEX.fullmatch(sha256):
        return b'{"path":"%s","sha256":"%s","size":%d,"url":"/hls/%s"}' % (
            path.encode(),
            sha256.encode(),
            size,
            path.encode(),
        )
    return canonical({"path": path, "sha256": sha256, "size": size, "url": f"/hls/{path}"})


FileRow = tuple[str, int, str]  # path relative to the asset's folder (keys.asset_path), size, SHA-256


def asset_pieces(asset: Asset, presentation: str, files: Sequence[FileRow]) -> Pieces | None:
    """What a site holds of a ready asset for `presentation` (master, iptv, iptv-sd): the master
    playlist, each listed rendition's playlist and segments, the poster; a document's PDF. None
    when the asset has no such rendition. `files` are the asset's recorded files (AssetFile)."""
    gen = asset.published_generation
    entries: list[tuple[str, int, str]] = []
    poster = None
    if asset.kind is AssetKind.DOCUMENT:
        source = next((f for f in files if f[0] == "source"), None)
        if source is None:
            return None
        play = f"{asset.id}/{DOCUMENT_FILE}"
        entries.append((play, source[1], source[2]))
    else:
        text = render_presentation(asset, presentation)
        if text is None or gen is None:
            return None
        body = text.encode()
        play = f"{asset.id}/{presentation}.m3u8"
        entries.append((play, len(body), hashlib.sha256(body).hexdigest()))
        folders = tuple(f"{gen}/{r.name}/" for r in presentation_renditions(asset, presentation))
        poster_rel = keys.asset_path(asset.id, asset.poster_key) if asset.poster_key else None
        entries += [
            (f"{asset.id}/{path}", size, sha)
            for path, size, sha in files
            if path.startswith(folders) or path == poster_rel
        ]
        if poster_rel is not None:
            poster = f"{asset.id}/{poster_rel}"
    entries.sort()
    return Pieces(
        fragment=b",".join(_entry(*e) for e in entries),
        size=sum(e[1] for e in entries),
        count=len(entries),
        play=play,
        poster=poster,
    )


class PiecesCache:
    """Pieces by (asset, generation, presentation). A generation's files never change, so entries
    never go stale; the bound only caps memory."""

    def __init__(self, limit: int = 20_000) -> None:
        self._limit = limit
        self._entries: dict[tuple[str, str, str], Pieces | None] = {}

    def get(self, session: Session, assets: Iterable[Asset], presentation: str) -> dict[str, Pieces | None]:
        wanted = {a.id: a for a in assets}
        found: dict[str, Pieces | None] = {}
        missing: list[str] = []
        for asset_id, asset in wanted.items():
            key = (asset_id, asset.published_generation or "", presentation)
            if key in self._entries:
                found[asset_id] = self._entries[key]
            else:
                missing.append(asset_id)
        if missing:
            # Plain rows, not ORM objects: a few hundred assets have ~100,000 files.
            rows: dict[str, list[FileRow]] = {asset_id: [] for asset_id in missing}
            query = select(AssetFile.asset_id, AssetFile.path, AssetFile.size_bytes, AssetFile.sha256)
            for asset_id, path, size, sha in session.execute(query.where(AssetFile.asset_id.in_(missing))):
                rows[asset_id].append((path, size, sha))
            loaded = session.scalars(
                select(Asset).where(Asset.id.in_(missing)).options(selectinload(Asset.renditions))
            )
            for asset in loaded:
                ready = asset.status is AssetStatus.READY
                pieces = asset_pieces(asset, presentation, rows[asset.id]) if ready else None
                if len(self._entries) >= self._limit:
                    self._entries.clear()  # crude but bounded; refilled from the database
                self._entries[(asset.id, asset.published_generation or "", presentation)] = pieces
                found[asset.id] = pieces
        return found


# --- the content of a site's manifest ---------------------------------------------------------


@dataclass(frozen=True)
class Content:
    """A manifest without its site part: `raw` is the document up to (not including) ',"site"'."""

    raw: bytes
    sha256: str
    total_bytes: int
    file_count: int
    over_quota: bool


def build_content(
    session: Session, site: Site, *, on: date, pieces_cache: PiecesCache | None = None
) -> Content:
    """Choose the programmes a site keeps on a day and list their files (see the module's doc)."""
    chosen = chosen_programmes(session, site, on=on)
    presentation = site.device_profile.presentation
    assets: dict[str, Asset] = {}
    for programme, _ in chosen:
        if programme.asset is not None:
            assets[programme.asset.id] = programme.asset
        for attachment in programme.attachment_rows:
            assets[attachment.asset.id] = attachment.asset
    cache = pieces_cache or PiecesCache()
    main = cache.get(session, [a for a in assets.values() if a.kind is not AssetKind.DOCUMENT], presentation)
    main |= cache.get(session, [a for a in assets.values() if a.kind is AssetKind.DOCUMENT], "document")

    quota = site.quota_bytes
    held: dict[str, Pieces] = {}  # asset id -> its pieces, each counted once (shared handouts)
    used = pinned = 0
    programmes: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for rank, (programme, required) in enumerate(chosen, start=1):
        own = main.get(programme.asset_id or "")
        base = {"rank": rank, "required": required, "title": programme.title}
        if own is None:
            kind = programme.asset.kind.value if programme.asset is not None else "missing"
            reason = (
                f"no {presentation} rendition for this profile ({site.device_profile.value}): it is a {kind}"
            )
            dropped.append({**base, "programme_id": programme.id, "bytes": 0, "reason": reason})
            continue
        parts = {programme.asset_id or "": own}
        for attachment in programme.attachment_rows:
            handout = main.get(attachment.asset_id)
            if handout is not None:
                parts[attachment.asset_id] = handout
        need = sum(p.size for asset_id, p in parts.items() if asset_id not in held)
        total = sum(p.size for p in parts.values())
        if not required and quota is not None and used + need > quota:
            left = human_size(max(0, quota - used))
            reason = f"over quota: needs {human_size(need)}, {left} of {human_size(quota)} left"
            dropped.append({**base, "programme_id": programme.id, "bytes": total, "reason": reason})
            continue
        held.update(parts)
        used += need
        pinned += need if required else 0
        programmes.append(
            {
                **base,
                "id": programme.id,
                "category": programme.category_code,
                "duration_seconds": round(programme.duration_seconds, 3)
                if programme.duration_seconds is not None
                else None,
                "asset_id": programme.asset_id,
                "play": own.play,
                "poster": own.poster,
                "attachments": [p.play for a, p in parts.items() if a != programme.asset_id],
                "bytes": total,
            }
        )
    over_quota = quota is not None and pinned > quota
    fragments = [held[a].fragment for a in sorted(held) if held[a].count]
    raw = b"".join(
        [
            b'{"bytes":%d,"device_profile":' % used,
            canonical(site.device_profile.value),
            b',"dropped":',
            canonical(dropped),
            b',"files":[',
            b",".join(fragments),
            b'],"format":%d,"over_quota":' % FORMAT,
            canonical(over_quota),
            b',"pinned_bytes":%d,"programmes":' % pinned,
            canonical(programmes),
            b',"quota_bytes":',
            canonical(quota),
        ]
    )
    return Content(
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        total_bytes=used,
        file_count=sum(held[a].count for a in held),
        over_quota=over_quota,
    )


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
    """A site's whole flat manifest, uncached."""
    return build_content(session, site, on=on).raw + site_head(site, version)
