"""A programme asks for one caption language burned into its set-top box pictures: the API keeps one
such language, asks for the IPTV renditions to be made again when it changes, and the remake burns
the captions table's text (workers.pipeline.captions_to_burn) into the IPTV pictures only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import m3u8
from fastapi.testclient import TestClient

from mediasrv.captions import publish
from mediasrv.db import Database, utcnow
from mediasrv.delivery import retention
from mediasrv.ingest.models import Asset
from mediasrv.jobs import REMAKE, REMAKE_IPTV
from tests.captions.test_subtitle_renditions import SRT, upload_and_process
from tests.fixtures import RecordingDispatcher
from tests.mediafactory import make_media
from workers import pipeline, reburn


def test_burned_captions_follow_the_programme_and_remake_only_the_iptv_pictures(
    client: TestClient, producer: dict[str, str], ctx: pipeline.Context, db: Database,
    dispatcher: RecordingDispatcher, tmp_path: Path,
) -> None:  # fmt: skip
    asset_id = upload_and_process(client, producer, ctx, make_media(tmp_path / "第1集.mp4", seconds=9))
    r = client.post("/api/v1/programmes", headers=producer,
                    json={"title": "初心", "category": "party-spirit", "asset_id": asset_id})  # fmt: skip
    pid = r.json()["id"]

    def attach(language: str, **fields: str) -> dict[str, object]:
        form = {"language": language, **fields}
        r = client.post(f"/api/v1/programmes/{pid}/captions", headers=producer,
                        files={"file": ("第1集.srt", SRT.encode())}, data=form)  # fmt: skip
        assert r.status_code == 201, r.text
        return dict(r.json())

    def subtitles_served() -> None:
        """Every subtitle segment the master leads to answers, once the superseded outputs are swept."""
        grace = ctx.settings.retired_grace_seconds
        later = utcnow() + timedelta(seconds=grace + 1)
        assert retention.collect_retired(db, ctx.store, grace_seconds=grace, now=later) >= 1
        master = m3u8.loads(client.get(f"/hls/{asset_id}/master.m3u8", headers=producer).text)
        subtitle_media = [m for m in master.media if m.type == "SUBTITLES"]
        assert len(subtitle_media) == 2
        for media in subtitle_media:
            r = client.get(f"/hls/{asset_id}/{media.uri}", headers=producer)
            listed = m3u8.loads(r.text)
            assert r.status_code == 200 and listed.segments
            folder = media.uri.rsplit("/", 1)[0]
            for segment in listed.segments:
                assert (
                    client.get(f"/hls/{asset_id}/{folder}/{segment.uri}", headers=producer).status_code == 200
                )

    def remakes() -> list[tuple[str, ...]]:
        return [args for task, args in dispatcher.sent if task == REMAKE]

    assert attach("ug")["burn_in"] is False and remakes() == []  # phones only: no remake
    assert pipeline.captions_to_burn(ctx, asset_id, tmp_path / "w0") is None
    assert attach("zh-Hans", burn_in="true")["burn_in"] is True
    assert remakes() == [(asset_id, REMAKE_IPTV)]
    burn = pipeline.captions_to_burn(ctx, asset_id, tmp_path / "w1")
    assert burn is not None and burn.language == "zh-Hans" and "不忘初心" in burn.path.read_text("utf-8")

    # A new text for the burned language keeps it burned (and remakes); one language at most.
    assert attach("zh-Hans")["burn_in"] is True and len(remakes()) == 2
    assert attach("ug", burn_in="true")["burn_in"] is True and len(remakes()) == 3
    listed = client.get(f"/api/v1/programmes/{pid}/captions", headers=producer).json()
    assert {c["language"]: c["burn_in"] for c in listed} == {"ug": True, "zh-Hans": False}
    form = {"language": "bo", "burn_in": "也许"}
    r = client.post(f"/api/v1/programmes/{pid}/captions", headers=producer,
                    files={"file": ("a.srt", SRT.encode())}, data=form)  # fmt: skip
    assert r.status_code == 400 and "burn_in" in r.json()["message"]

    # The remake reads the table: IPTV pictures change, the phones' files (their subtitle set too)
    # stay as they were.
    assert publish.republish(ctx.db, ctx.store, asset_id, work_dir=tmp_path / "work") is True
    with db.session_scope() as s:
        before = {f.path.split("/", 1)[1]: f.sha256 for f in s.get_one(Asset, asset_id).files}
    assert reburn.reburn_iptv(ctx, asset_id) is True
    with db.session_scope() as s:
        asset = s.get_one(Asset, asset_id)
        after = {f.path.split("/", 1)[1]: f.sha256 for f in asset.files}
        generation, tracks = asset.published_generation, list(asset.subtitles or [])
    # The master names the set's copies in the new generation, which outlive the old one's sweep; they
    # are these captions' set there (publishing them again changes nothing).
    assert len(tracks) == 2 and all(t["playlist"].startswith(f"{generation}/") for t in tracks)
    assert publish.republish(ctx.db, ctx.store, asset_id, work_dir=tmp_path / "work") is None
    subtitles_served()
    changed = {path.split("/")[0] for path in after if after[path] != before.get(path)}
    assert changed and all(folder.startswith("iptv") for folder in changed)
    assert {p: h for p, h in after.items() if p.startswith("mobile")} == {
        p: h for p, h in before.items() if p.startswith("mobile")
    }
    # A whole remake (a dub changed) cuts the phones' ladder anew, and the subtitle set beside it.
    assert reburn.remake(ctx, asset_id, iptv_only=False) is True
    with db.session_scope() as s:
        asset = s.get_one(Asset, asset_id)
        generation, tracks = asset.published_generation, list(asset.subtitles or [])
    assert len(tracks) == 2 and all(t["playlist"].startswith(f"{generation}/") for t in tracks)
    subtitles_served()

    # Removing the burned language asks for clean pictures; removing another does not.
    assert client.delete(f"/api/v1/programmes/{pid}/captions/zh-Hans", headers=producer).status_code == 204
    assert len(remakes()) == 3
    assert client.delete(f"/api/v1/programmes/{pid}/captions/ug", headers=producer).status_code == 204
    assert len(remakes()) == 4 and pipeline.captions_to_burn(ctx, asset_id, tmp_path / "w2") is None
