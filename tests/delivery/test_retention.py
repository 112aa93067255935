"""The retention sweep: a re-transcoded film's previous generation stays for the players and sites
still reading it, and goes after the grace once no kept manifest version names it."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab
from fastapi.testclient import TestClient
from sqlalchemy import delete

from mediasrv.config import Settings
from mediasrv.db import Database, utcnow
from mediasrv.delivery.manifest.models import SiteManifest
from mediasrv.delivery.manifest.store import collect_garbage
from mediasrv.delivery.retention import collect_retired
from mediasrv.ingest.models import Asset, AssetStatus
from mediasrv.protocol.document import list_digests
from mediasrv.storage import ObjectStore, keys
from tests.delivery.test_manifest import _manifest, _site
from tests.fixtures import ReadyAsset, publish_programme
from workers import pipeline


def test_a_superseded_generation_waits_for_the_grace_and_for_the_sites_kept_versions(
    client: TestClient,
    db: Database,
    store: ObjectStore,
    ctx: pipeline.Context,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    film = ready_asset(producer, "video")
    publish_programme(client, producer, admin, film, title="重新转码的节目")
    site, headers = _site(client, db, admin, "retention", "iptv")
    assert len(list_digests(_manifest(client, site, headers))) == 1  # names the first generation's list
    with db.session_scope() as s:
        asset = s.get_one(Asset, film)
        old, segment = asset.published_generation or "", asset.files[-1].path
        asset.status = AssetStatus.UPLOADED  # transcoded again (a retry, a new ffmpeg)
    assert pipeline.process_asset(ctx, film) is AssetStatus.READY
    with db.session_scope() as s:
        new = s.get_one(Asset, film).published_generation or ""
    assert new != old
    # A player (or a site fetching the version it holds) still gets the old generation's files.
    assert client.get(f"/hls/{film}/{segment}", headers=producer).status_code == 200

    grace = ctx.settings.retired_grace_seconds
    later = utcnow() + timedelta(seconds=grace + 1)
    assert collect_retired(db, store, grace_seconds=grace) == 0  # within the grace
    assert collect_retired(db, store, grace_seconds=grace, now=later) == 0  # a kept version names it
    assert list(store.list(keys.generation_prefix(film, old)))
    with db.session_scope() as s:  # the site's versions aged out
        s.execute(delete(SiteManifest).where(SiteManifest.site_id == site))
    collect_garbage(db)
    assert collect_retired(db, store, grace_seconds=grace, now=later) == 1
    assert not list(store.list(keys.generation_prefix(film, old)))
    assert client.get(f"/hls/{film}/{segment}", headers=producer).status_code == 404
    with db.session_scope() as s:  # the published generation is whole
        files = s.get_one(Asset, film).files
        assert files and all(store.stat(keys.asset_prefix(film) + f.path) for f in files)
    assert collect_retired(db, store, grace_seconds=grace, now=later) == 0


def test_the_beat_runs_the_retention_sweep_every_hour(settings: Settings) -> None:
    import workers.tasks  # noqa: F401  # registers the tasks on the workers' app
    from mediasrv.jobs import QUEUES, RETIRED_GC
    from workers.celery_app import app, make_celery

    beat = {entry["task"]: entry["schedule"] for entry in make_celery(settings).conf.beat_schedule.values()}
    assert (
        beat[RETIRED_GC] == crontab(minute=45) and RETIRED_GC in app.tasks and QUEUES[RETIRED_GC] == "default"
    )
    assert settings.retired_grace_seconds == 6 * 3600
