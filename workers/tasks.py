"""Thin task wrappers: build the process's context once (after fork), then call the domain (or the
transcode pipeline beside this module) by id."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from mediasrv import migrations
from mediasrv.db import Database
from mediasrv.delivery import retention
from mediasrv.delivery.manifest import store as manifests
from mediasrv.jobs import (
    CAPTIONS,
    COMPLIANCE_REFRESH,
    FAULT_NOTIFY,
    FAULT_SWEEP,
    INDEX,
    INDEX_REFRESH,
    MANIFEST_GC,
    REMAKE,
    REMAKE_IPTV,
    RETIRED_GC,
    SWEEP,
    TRANSCODE,
    TRANSCODE_PIECE,
    CeleryDispatcher,
)
from mediasrv.kit.errors import MediaProcessingError, StorageUnavailable
from mediasrv.protocol.china import today_in_china
from mediasrv.search import indexing
from mediasrv.search.index import SearchIndex, SearchIndexBusy
from mediasrv.storage import open_store
from workers import chunked, pipeline, reburn
from workers.celery_app import app, settings

log = logging.getLogger(__name__)
_context: pipeline.Context | None = None
_dispatcher: CeleryDispatcher | None = None
_search: SearchIndex | None = None


@worker_process_init.connect
def _reset_after_fork(**_: Any) -> None:
    # A pool child must not reuse connections inherited from its parent.
    global _context, _dispatcher, _search
    _context = _dispatcher = _search = None


def context() -> pipeline.Context:
    global _context
    if _context is None:
        db = Database(settings.resolved_database_url)
        migrations.check(db)
        _context = pipeline.Context(
            db=db,
            store=open_store(settings.resolved_storage_url),
            settings=settings,
            dispatcher=dispatcher(),  # long films go out in pieces to every transcode worker
        )
    return _context


@app.task(
    name=TRANSCODE,
    bind=True,
    max_retries=None,
    soft_time_limit=settings.transcode_time_limit_seconds,
    time_limit=settings.transcode_time_limit_seconds + 300,
)
def transcode(self: Task, asset_id: str) -> str | None:
    ctx = context()
    try:
        status = pipeline.process_asset(ctx, asset_id)
    except StorageUnavailable as exc:
        delay = min(300, 10 * 2 ** min(self.request.retries, 5))
        log.warning("asset %s: storage unavailable (%s); retrying in %d s", asset_id, exc.message, delay)
        raise self.retry(countdown=delay) from exc
    except SoftTimeLimitExceeded:
        hours = f"{settings.transcode_time_limit_seconds / 3600:g}"
        pipeline.fail(ctx, asset_id, MediaProcessingError("ingest.time_limit", hours=hours))
        return "failed"
    return status.value if status else None


@app.task(
    name=TRANSCODE_PIECE,
    bind=True,
    max_retries=None,
    soft_time_limit=settings.transcode_time_limit_seconds,
    time_limit=settings.transcode_time_limit_seconds + 300,
)
def transcode_piece(self: Task, asset_id: str, generation: str, piece: str) -> str | None:
    """One piece of a long film; a failed piece is retried alone (its attempts are counted in the
    database, which fails the asset after max_attempts)."""
    ctx = context()
    try:
        status = chunked.process_piece(ctx, asset_id, generation, piece)
    except (StorageUnavailable, chunked.PieceFailed) as exc:
        delay = min(300, 10 * 2 ** min(self.request.retries, 5))
        log.warning("asset %s: piece %s will be retried in %d s (%s)", asset_id, piece, delay, exc)
        raise self.retry(countdown=delay) from exc
    except SoftTimeLimitExceeded:
        hours = f"{settings.transcode_time_limit_seconds / 3600:g}"
        pipeline.fail(
            ctx, asset_id, MediaProcessingError("ingest.time_limit", hours=hours), generation=generation
        )
        return "failed"
    return status.value if status else None


@app.task(name=CAPTIONS, bind=True, max_retries=60)
def publish_captions(self: Task, asset_id: str) -> str:
    """Publish an asset's captions as its subtitle set, without re-transcoding. An asset still being
    transcoded is asked again later: its transcode may have read the captions before this change."""
    from mediasrv.captions import publish

    ctx = context()
    try:
        done = publish.republish(ctx.db, ctx.store, asset_id, work_dir=settings.work_dir)
    except StorageUnavailable as exc:
        raise self.retry(countdown=min(300, 10 * 2 ** min(self.request.retries, 5))) from exc
    if done is False:
        raise self.retry(countdown=30)
    return "published" if done else "unchanged"


@app.task(
    name=REMAKE,
    bind=True,
    max_retries=10,
    soft_time_limit=settings.transcode_time_limit_seconds,
    time_limit=settings.transcode_time_limit_seconds + 300,
)
def remake(self: Task, asset_id: str, scope: str) -> bool:
    """Captions changed ("iptv"): re-make the film's IPTV renditions only; its language tracks
    changed ("all"): every rendition. A failure leaves the published generation as it was (still
    playable, as before the change); storage outages are retried."""
    try:
        return reburn.remake(context(), asset_id, iptv_only=scope == REMAKE_IPTV)
    except StorageUnavailable as exc:
        delay = min(300, 10 * 2 ** min(self.request.retries, 5))
        log.warning("asset %s: storage unavailable (%s); remake in %d s", asset_id, exc.message, delay)
        raise self.retry(countdown=delay) from exc


def dispatcher() -> CeleryDispatcher:
    global _dispatcher
    _dispatcher = _dispatcher or CeleryDispatcher(settings.resolved_broker_url)
    return _dispatcher


@app.task(name=SWEEP)
def sweep() -> int:
    return len(pipeline.sweep(context(), dispatcher()))


def search_index() -> SearchIndex:
    global _search
    if _search is None:
        _search = SearchIndex(settings.index_dir)
    return _search


@app.task(name=INDEX, autoretry_for=(SearchIndexBusy,), retry_backoff=True, max_retries=10)
def index(*programme_ids: str) -> int:
    """Bring these programmes' search entries in line with the catalog (idempotent)."""
    indexing.sync(context().db, search_index(), programme_ids)
    return len(programme_ids)


@app.task(name=INDEX_REFRESH)
def refresh_required() -> int:
    """Daily: programmes whose required flag changed because a list's period started or ended."""
    return indexing.refresh_required(context().db, search_index(), on=today_in_china())


@app.task(name=COMPLIANCE_REFRESH)
def compliance_refresh() -> int:
    """Every 5 minutes: recompute the stale compliance summaries of this month (and of last month
    during the first week, when late offline records still arrive); how many were stale."""
    from datetime import timedelta

    from mediasrv.study import compliance

    today = today_in_china()
    months = {today.strftime("%Y-%m")}
    if today.day <= 7:
        months.add((today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"))
    task = compliance.Task.of(settings)
    with context().db.session_scope() as session:
        return sum(compliance.refresh(session, month=m, task=task) for m in sorted(months))


@app.task(name=FAULT_SWEEP)
def fault_sweep() -> int:
    """Every MEDIASRV_FAULT_SWEEP_INTERVAL_SECONDS: open and close the detected faults; how many opened."""
    from mediasrv.faults import loop

    return loop.sweep(context().db, settings).opened


@app.task(name=FAULT_NOTIFY)
def fault_notify() -> int:
    """Every minute: a digest of the new faults per region (at most one per region per
    MEDIASRV_FAULT_DIGEST_INTERVAL_SECONDS), the escalations due, and the deliveries due (retried);
    how many deliveries went out."""
    from mediasrv.faults import loop

    return loop.notify_and_deliver(context().db, settings).sent


@app.task(name=MANIFEST_GC)
def manifest_gc() -> int:
    """Daily: drop manifest contents that no kept version of any site points at any more, then the file
    lists that none of the kept versions names (and no build can name again); how many rows went."""
    db = context().db
    return manifests.collect_garbage(db) + manifests.collect_file_lists(db)


@app.task(name=RETIRED_GC)
def retired_gc() -> int:
    """Hourly: delete superseded outputs (generations, subtitle sets, dub files) whose grace is over and
    that neither their asset nor a kept manifest version names; how many went."""
    ctx = context()
    return retention.collect_retired(ctx.db, ctx.store, grace_seconds=settings.retired_grace_seconds)
