"""A site's logbook over the API: sessions recorded once whatever the retries, photos as evidence,
and no site writing another's records."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role
from mediasrv.study import photos, service
from mediasrv.study.models import SessionPhoto
from tests.fixtures import ReadyAsset, publish_programme
from tests.study.test_lists import site_with

XITANG = "河北省/邢台市/信都区/西黄村镇/西塘村"


def body(started_at: str, minutes: int = 90, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "started_at": started_at,
        "minutes": minutes,
        "members_present": 12,
        **extra,
    }


@pytest.fixture
def sites(client: TestClient, db: Database, admin: dict[str, str]) -> dict[str, tuple[int, dict[str, str]]]:
    return {
        "xitang": site_with(client, db, admin, "xitang", XITANG),
        "donghe": site_with(client, db, admin, "donghe", "河北省/邢台市/信都区/西黄村镇/东河村"),
    }


def test_a_session_is_recorded_once_however_often_it_is_sent(
    client: TestClient,
    sites: dict[str, tuple[int, dict[str, str]]],
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> None:
    (xitang, own), (donghe, other) = sites["xitang"], sites["donghe"]
    programme = publish_programme(client, producer, admin, ready_asset(producer), title="党史学习")
    session = body(
        "2026-11-20T19:30:00+08:00", programmes=[{"programme_id": programme}], notes="  讨论：学用结合  "
    )
    url = f"/api/v1/sites/{xitang}/sessions"
    first = client.post(url, headers=own, json=session)
    assert first.status_code == 201, first.text
    got = first.json()
    assert (
        got["day"] == "2026-11-20"
        and got["notes"] == "讨论：学用结合"
        and got["recorded_by"] == "site xitang"
    )
    assert got["programmes"] == [{"programme_id": programme, "minutes": None}]

    again = client.post(url, headers=own, json={**session, "minutes": 5})  # a queue re-sent, edited or not
    assert again.status_code == 200 and again.json()["minutes"] == 90
    stolen = client.post(f"/api/v1/sites/{donghe}/sessions", headers=other, json=session)
    assert stolen.status_code == 409 and stolen.json()["code"] == "study.id_of_another_site"
    assert stolen.json()["message"] == f"学习记录编号 {session['id']} 已被其他站点使用：请生成一个新编号。"
    assert client.post(url, headers=other, json=body("2026-11-21T19:30:00+08:00")).status_code == 403
    assert client.post(url, headers=admin, json=body("2026-11-22T19:30:00+08:00")).status_code == 201
    listed = client.get(url, headers=own, params={"month": "2026-11"}).json()
    assert [s["day"] for s in listed] == ["2026-11-20", "2026-11-22"]
    assert client.get(f"/api/v1/sites/{xitang}/sessions", headers=other).status_code == 403


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"started_at": "2026-11-20T19:30:00"}, "开始时间：请写明时区，例如 2026-11-20T19:30:00+08:00"),
        ({"minutes": 0}, "时长（分钟）：不能小于 1"),
        ({"id": "short"}, "id：格式不对"),
        ({"programmes": [{"programme_id": "nope-nope"}]}, "没有编号为 nope-nope 的节目"),
        ({"started_at": "0001-01-01T00:00:00+08:00"}, "请检查年份"),  # before UTC's first instant
    ],
    ids=["naive-time", "no-minutes", "bad-id", "unknown-programme", "year-one"],
)
def test_a_bad_session_says_what_to_fix(
    client: TestClient, sites: dict[str, tuple[int, dict[str, str]]], change: dict[str, Any], says: str
) -> None:
    site_id, own = sites["xitang"]
    r = client.post(
        f"/api/v1/sites/{site_id}/sessions", headers=own, json={**body("2026-11-20T19:30:00+08:00"), **change}
    )
    assert r.status_code in (404, 422) and says in r.json()["message"], r.text


def jpeg(tmp: Path) -> bytes:
    path = tmp / "photo.jpg"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x48:rate=1",
            "-frames:v",
            "1",
            str(path),
        ],
        check=True,
    )
    return path.read_bytes()


def test_photos_are_kept_once_without_metadata_and_only_for_the_own_site(
    client: TestClient, sites: dict[str, tuple[int, dict[str, str]]], tmp_path: Path
) -> None:
    (xitang, own), (_, other) = sites["xitang"], sites["donghe"]
    session = client.post(
        f"/api/v1/sites/{xitang}/sessions", headers=own, json=body("2026-11-20T19:30:00+08:00")
    ).json()
    url = f"/api/v1/sites/{xitang}/sessions/{session['id']}/photos"
    data = jpeg(tmp_path)
    app1 = b"Exif\x00\x00GPS-XY"  # an EXIF block as a phone adds it (with no orientation)
    tagged = data[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + data[2:]
    first = client.post(url, headers=own, files={"file": ("学习.jpg", tagged, "image/jpeg")})
    assert first.status_code == 201, first.text
    photo = first.json()
    assert (photo["width"], photo["height"], photo["content_type"]) == (64, 48, "image/jpeg")
    assert (
        client.post(url, headers=own, files={"file": ("again.jpg", tagged, "image/jpeg")}).status_code == 200
    )
    kept = client.get(f"{url}/{photo['id']}", headers=own)
    assert kept.status_code == 200 and b"GPS-XY" not in kept.content
    assert kept.content == photos.clean(data, "x.jpg").data  # the image itself, untouched
    assert client.get(f"{url}/{photo['id']}", headers=other).status_code == 403
    assert client.post(url, headers=other, files={"file": ("x.jpg", data, "image/jpeg")}).status_code == 403

    refused = client.post(url, headers=own, files={"file": ("讲话稿.pdf", b"%PDF-1.4\n", "image/jpeg")})
    assert refused.status_code == 415 and "讲话稿.pdf" in refused.json()["message"]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.state.settings = settings.model_copy(update={"photo_max_bytes": 100})  # type: ignore[attr-defined]
    big = client.post(url, headers=own, files={"file": ("大照片.jpg", data, "image/jpeg")})
    assert big.status_code == 413 and "大照片.jpg" in big.json()["message"]
    listed = client.get(f"/api/v1/sites/{xitang}/sessions", headers=own, params={"month": "2026-11"}).json()
    assert [len(s["photos"]) for s in listed] == [1]


def test_the_same_photo_sent_twice_at_once_is_kept_once(
    client: TestClient, db: Database, sites: dict[str, tuple[int, dict[str, str]]], tmp_path: Path
) -> None:
    """Two uploads of one photo racing: the one whose insert loses answers with the winner's row
    (not a 500), and both wrote the same object, so nothing is left dangling."""
    xitang, own = sites["xitang"]
    made = client.post(
        f"/api/v1/sites/{xitang}/sessions", headers=own, json=body("2026-11-20T19:30:00+08:00")
    )
    session_id = made.json()["id"]
    store = client.app.state.store  # type: ignore[attr-defined]
    caller = Caller(role=Role.ADMIN, name="test", via="cli")
    data = jpeg(tmp_path)

    def add(s: Session) -> tuple[SessionPhoto, bool]:
        return service.add_photo(
            s, store, caller, xitang, session_id, data=data, filename="学习.jpg", spool=tmp_path / "spool"
        )

    with db.session_scope() as s:
        first, created = add(s)
        assert created
        row = service.get_session(s, caller, xitang, session_id)
        set_committed_value(row, "photos", [])  # what the twin request read: no photo yet
        twin, created = add(s)
        assert not created and (twin.id, twin.key) == (first.id, first.key)
    listed = client.get(f"/api/v1/sites/{xitang}/sessions", headers=own, params={"month": "2026-11"}).json()
    assert [len(s["photos"]) for s in listed] == [1]
