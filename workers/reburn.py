"""A published film made again while it stays playable: after its captions changed, only its set-top
box renditions (the only pictures captions are burned into), published with the phones' renditions
and the poster unchanged; after its language tracks changed, every rendition. Either way a new
generation, flipped in one commit like any other (workers.pipeline).

No lease: the asset stays ready and playable throughout. The commit only happens if the generation
this run started from is still the published one and the asset still ready, so a full transcode
started meanwhile (or another reburn that published first) wins and this run's files are dropped.

A long film first transcoded in chunks (workers.chunked) is remade here in one run too, on purpose:
the piece machinery belongs to a film being transcoded (a lease, its generation's piece rows, the
asset PROCESSING and so not playable), and a remake must leave the film ready. A caption change
decodes the film once and encodes only the two IPTV pictures (not the phones' ladder) on one
worker, under the same time limit as a transcode (not measured for long films: no chunked remake
yet); the renditions it writes are named and cut exactly like the chunked run's
(mediasrv.media.chunks), so the phones' files copied from it still fit.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

from mediasrv import epochs
from mediasrv.captions import publish as captions_publish
from mediasrv.captions import service as captions_service
from mediasrv.captions.service import Snapshot
from mediasrv.ingest.models import Asset, AssetFile, AssetKind, AssetStatus, Rendition
from mediasrv.ingest.retention import retire_generation
from mediasrv.media.hls import VariantInfo, finish_renditions
from mediasrv.media.probe import MediaInfo
from mediasrv.media.profiles import RenditionSpec
from mediasrv.media.runner import run_ffmpeg
from mediasrv.storage import keys
from workers.pipeline import (
    Context,
    _delete_other_generations,
    _subtitle_set,
    _upload_tree,
    plan_for,
)

log = logging.getLogger("mediasrv.ingest.pipeline")


def reburn_iptv(ctx: Context, asset_id: str) -> bool:
    """Re-make the IPTV renditions of a ready film with the captions it asks for now (none: clean
    pictures). True when this run published a new generation."""
    return remake(ctx, asset_id, iptv_only=True)


def remake(ctx: Context, asset_id: str, *, iptv_only: bool) -> bool:
    """Re-make a ready film's IPTV renditions, or all of them, with its current language tracks and
    captions. True when this run published a new generation."""
    with ctx.db.session_scope() as session:
        asset = session.get(Asset, asset_id)
        if (
            asset is None
            or asset.status is not AssetStatus.READY
            or asset.kind is not AssetKind.VIDEO
            or asset.published_generation is None
            or not asset.source_info
        ):
            return False
        old = asset.published_generation
        source_key, filename = asset.source_key, asset.filename
        info = MediaInfo.from_dict(asset.source_info)
        published_files = [(f.path.split("/", 1)[1], f.size_bytes, f.sha256) for f in asset.files]
        snap = captions_service.snapshot(session, asset_id)
    generation = uuid.uuid4().hex[:12]
    workdir = ctx.settings.work_dir / f"{asset_id}-{generation}-reburn"
    try:
        workdir.mkdir(parents=True)
        source = workdir / ("source" + Path(filename).suffix.lower()[:8])
        ctx.store.get_file(source_key, source)
        outdir = workdir / "out"
        plan = plan_for(ctx, asset_id, source, info, workdir, iptv_only=iptv_only)
        run_ffmpeg(plan.args, duration=info.duration, stall_timeout=ctx.settings.transcode_stall_seconds)
        variants = finish_renditions(outdir, plan.renditions)
        # A whole remake cuts the phones' ladder anew: its subtitle set is made beside it, as a transcode's.
        subtitle_set = (
            None if iptv_only else _subtitle_set(ctx, asset_id, generation, outdir, plan.renditions, variants)
        )
        files = _upload_tree(ctx.store, outdir, asset_id, generation)
        rebuilt = {spec.name for spec in plan.renditions}
        # Everything else of the published generation comes along unchanged, copied in storage (a
        # generation is one folder): the phones' renditions, the poster.
        made = {rel for rel, _, _ in files}
        for rel, size, sha in published_files if iptv_only else []:
            if rel.split("/", 1)[0] not in rebuilt and rel not in made:
                ctx.store.copy(
                    keys.generation_file(asset_id, old, rel), keys.generation_file(asset_id, generation, rel)
                )
                files.append((rel, size, sha))
        published = _publish(
            ctx,
            asset_id,
            old,
            generation,
            rebuilt=rebuilt,
            iptv_only=iptv_only,
            variants=variants,
            specs=plan.renditions,
            files=files,
            subtitle_set=subtitle_set,
            snap=snap,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not published:
        log.info("asset %s: changed while its IPTV renditions were re-made; dropping them", asset_id)
        ctx.store.delete_prefix(keys.generation_prefix(asset_id, generation))
        return False
    _delete_other_generations(ctx, asset_id, keep=generation)
    # Captions changed while this run made its files: their job may have published them on the old
    # generation, which this one replaced. Publish them on this one (nothing to do when they match).
    captions_publish.republish(ctx.db, ctx.store, asset_id, work_dir=ctx.settings.work_dir)
    return True


def _publish(
    ctx: Context,
    asset_id: str,
    old: str,
    generation: str,
    *,
    rebuilt: set[str],
    iptv_only: bool,
    variants: list[VariantInfo],
    specs: list[RenditionSpec],
    files: list[tuple[str, int, str]],
    subtitle_set: tuple[str | None, list[dict[str, Any]]] | None,
    snap: Snapshot,
) -> bool:
    groups = {spec.name: list(spec.groups) for spec in specs}
    with ctx.db.session_scope() as session:
        asset = session.get_one(Asset, asset_id)
        if asset.published_generation != old or asset.status is not AssetStatus.READY:
            return False
        # A whole remake keeps no row: a language dropped since goes with the old generation.
        kept = [
            r.copy(playlist_key=r.playlist_key.replace(f"/{old}/", f"/{generation}/", 1))
            for r in asset.renditions
            if iptv_only and r.name not in rebuilt
        ]
        retire_generation(session, asset_id, old)  # players may be reading it
        asset.renditions.clear()
        asset.files.clear()
        session.flush()  # the unique (asset, name) rows go first
        asset.files.extend(
            AssetFile(path=f"{generation}/{rel}", size_bytes=size, sha256=sha) for rel, size, sha in files
        )
        asset.renditions.extend(kept)
        asset.renditions.extend(
            Rendition.of(
                v, groups=groups[v.name], playlist_key=keys.generation_file(asset_id, generation, v.playlist)
            )
            for v in variants
        )
        if not iptv_only and any(rel == "poster.jpg" for rel, _, _ in files):
            asset.poster_key = keys.generation_file(asset_id, generation, "poster.jpg")
        elif asset.poster_key is not None:
            asset.poster_key = asset.poster_key.replace(f"/{old}/", f"/{generation}/", 1)
        if subtitle_set is not None:
            asset.subtitles, asset.subtitles_version = subtitle_set[1] or None, subtitle_set[0]
        elif asset.subtitles:
            # The subtitle set came along with the phones' files: the master names the copies, so the
            # retired generation is not kept alive by it; they are the set of these captions on this
            # generation, unless the captions changed meanwhile (republished below).
            asset.subtitles = [
                {**t, "playlist": str(t["playlist"]).replace(f"{old}/", f"{generation}/", 1)}
                for t in asset.subtitles
            ]
            if asset.subtitles_version == captions_publish.set_version(old, snap):
                asset.subtitles_version = captions_publish.set_version(generation, snap)
        asset.published_generation = generation
        epochs.bump(session, epochs.MANIFESTS)  # sites holding it must fetch the new IPTV files
    return True
