"""The retention sweep: deletes retired outputs (ingest.retention) once their grace is over, unless
something still names them: the asset now (its published files, playlists, poster, language tracks,
or a transcode under way that reads its tracks) or a kept manifest version of any site (a site may
still fetch the files of any of its last KEEP_VERSIONS). Those stay, and are looked at again next time.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mediasrv.db import Database, utcnow
from mediasrv.delivery.manifest.models import FileList
from mediasrv.delivery.manifest.store import kept_documents
from mediasrv.ingest.models import Asset, AssetStatus, LanguageTrack, RetiredObject
from mediasrv.kit.errors import StorageUnavailable
from mediasrv.protocol.document import flat, list_digests
from mediasrv.storage import ObjectStore, keys

log = logging.getLogger("mediasrv.delivery.retention")


def collect_retired(
    db: Database, store: ObjectStore, *, grace_seconds: float, now: datetime | None = None
) -> int:
    """Delete the retired outputs whose grace is over and that nothing names; how many prefixes went."""
    cutoff = (now or utcnow()) - timedelta(seconds=grace_seconds)
    with db.session_scope() as session:
        due: dict[str, list[str]] = defaultdict(list)
        for prefix, asset_id in session.execute(
            select(RetiredObject.prefix, RetiredObject.asset_id).where(RetiredObject.retired_at <= cutoff)
        ):
            due[asset_id].append(prefix)
        if not due:
            return 0
        kept = _kept_by_manifests(session, set(due))
    gone = 0
    for asset_id, prefixes in sorted(due.items()):
        gone += _collect_asset(db, store, asset_id, prefixes, kept.get(asset_id, set()), cutoff)
    return gone


def _collect_asset(
    db: Database, store: ObjectStore, asset_id: str, prefixes: list[str], kept: set[str], cutoff: datetime
) -> int:
    # Under the asset's row lock, which every publication takes: a set published again meanwhile (the
    # same captions once more: the same folders) either comes after this and uploads its files anew,
    # or came before and took its folders out of retirement.
    gone = 0
    with db.session_scope() as session:
        asset = session.scalar(
            select(Asset)
            .where(Asset.id == asset_id)
            .options(selectinload(Asset.renditions), selectinload(Asset.files))
            .with_for_update()
        )
        named = _named_now(session, asset) | kept
        # A transcode under way may have read the tracks before they changed: their sources stay.
        busy = asset is not None and asset.status in (AssetStatus.UPLOADED, AssetStatus.PROCESSING)
        sources = keys.audio_track_prefix(asset_id)
        for prefix in prefixes:
            row = session.get(RetiredObject, prefix)
            if row is None or row.retired_at > cutoff:
                continue  # taken out of retirement, or retired again, meanwhile
            if any(key.startswith(prefix) for key in named) or (busy and prefix.startswith(sources)):
                continue  # still named: looked at again next time
            try:
                store.delete_prefix(prefix)
            except StorageUnavailable:
                log.warning("asset %s: could not remove retired %s; tried again next time", asset_id, prefix)
                continue
            session.delete(row)
            gone += 1
    return gone


def _named_now(session: Session, asset: Asset | None) -> set[str]:
    """The keys the asset names now (none when it is gone: its row went with its outputs)."""
    if asset is None:
        return set()
    prefix = keys.asset_prefix(asset.id)
    named = {prefix + f.path for f in asset.files}
    named.update(r.playlist_key for r in asset.renditions)
    named.update(prefix + str(t["playlist"]) for t in asset.subtitles or [])
    if asset.poster_key:
        named.add(asset.poster_key)
    named.update(session.scalars(select(LanguageTrack.source_key).where(LanguageTrack.asset_id == asset.id)))
    return named


def _kept_by_manifests(session: Session, assets: set[str]) -> dict[str, set[str]]:
    """The keys of the given assets' files that a kept manifest version of some site names."""
    digests: set[str] = set()
    named: dict[str, set[str]] = defaultdict(set)
    for doc in kept_documents(session):
        if flat(doc):  # format 1 names every file itself, by its path below /hls/
            for f in doc.get("files", []):
                path = str(f["path"])
                if path.split("/", 1)[0] in assets:
                    named[path.split("/", 1)[0]].add(keys.hls_file(path))
        else:
            digests.update(list_digests(doc))
    wanted = sorted(digests)
    for start in range(0, len(wanted), 500):  # bound the IN list
        rows = session.execute(
            select(FileList.asset_id, FileList.body).where(
                FileList.sha256.in_(wanted[start : start + 500]), FileList.asset_id.in_(assets)
            )
        )
        for asset_id, body in rows:
            prefix = keys.asset_prefix(asset_id)
            named[asset_id].update(prefix + str(f["path"]) for f in json.loads(body)["files"])
    return named
