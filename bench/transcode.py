"""Full mediasrv ingest of a generated 1080p25 film against the bare ffmpeg command it runs.

    .venv/bin/python bench/transcode.py [--seconds 30] [--rounds 2]

Baseline: the exact ffmpeg argv that mediasrv's plan builds, run directly (one process, every rendition).
Project: HTTP upload through the app (streaming parse, SHA-256, store), then the pipeline job
(download source, probe, the same ffmpeg with progress and lease renewal, measure variants, store every
file, publish). Rounds alternate so that neither side always runs on a warm cache. Prints the ratio
of the medians; the target is at most 1.05.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from mediasrv import migrations
from mediasrv.accounts import service
from mediasrv.app import create_app
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.ingest.models import AssetStatus
from mediasrv.kit.caller import Caller, Role
from mediasrv.media.plan import build_plan
from mediasrv.media.probe import probe
from workers import pipeline


class NoDispatch:
    def send(self, task: str, *args: str) -> None:
        """The bench runs the job itself, in this process."""


def make_film(path: Path, seconds: int) -> Path:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-g", "50", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2", str(path)],
        check=True,
    )  # fmt: skip
    return path


def bare(film: Path, work: Path) -> float:
    out = work / "bare"
    shutil.rmtree(out, ignore_errors=True)
    plan = build_plan(film, probe(film), out)
    start = time.perf_counter()
    subprocess.run(plan.args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def project(film: Path, work: Path, round_no: int) -> tuple[float, float]:
    settings = Settings(data_dir=work / f"var{round_no}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    migrations.upgrade(db)
    db.dispose()
    with TestClient(create_app(settings, dispatcher=NoDispatch())) as client:
        state = client.app.state  # type: ignore[attr-defined]
        with state.db.session_scope() as s:
            actor = Caller(role=Role.ADMIN, name="bench", via="cli")
            _, token = service.create_service_account(s, actor=actor, name="bench", role=Role.ADMIN)
        start = time.perf_counter()
        with film.open("rb") as f:
            r = client.post(
                "/api/v1/assets", headers={"Authorization": f"Bearer {token}"}, files={"file": (film.name, f)}
            )
        r.raise_for_status()
        uploaded = time.perf_counter()
        ctx = pipeline.Context(db=state.db, store=state.store, settings=settings)
        status = pipeline.process_asset(ctx, r.json()["id"])
        done = time.perf_counter()
    assert status is AssetStatus.READY, status
    shutil.rmtree(work / f"var{round_no}", ignore_errors=True)
    return done - start, uploaded - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp:
        work = Path(tmp)
        film = make_film(work / "film-1080p25.mp4", ns.seconds)
        print(f"film: {ns.seconds} s 1080p25, {film.stat().st_size / 1e6:.1f} MB")
        bares, projects = [], []
        for i in range(ns.rounds):
            order = [("bare", None), ("project", i)] if i % 2 == 0 else [("project", i), ("bare", None)]
            for name, n in order:
                if name == "bare":
                    bares.append(bare(film, work))
                    print(f"round {i + 1}: bare ffmpeg        {bares[-1]:7.2f} s")
                else:
                    total, upload = project(film, work, n or 0)
                    projects.append(total)
                    print(f"round {i + 1}: mediasrv ingest    {total:7.2f} s (upload {upload:.2f} s)")
        b, p = statistics.median(bares), statistics.median(projects)
        print(f"median bare {b:.2f} s, median mediasrv {p:.2f} s")
        print(f"ratio mediasrv/bare = {p / b:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
