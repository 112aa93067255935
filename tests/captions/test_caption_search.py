"""A sentence said in a film finds the programme and the moment it is said."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mediasrv.search.index import SearchDoc, SearchIndex
from tests.captions.test_subtitle_renditions import upload_and_process
from tests.fixtures import publish_programme
from tests.mediafactory import make_media
from workers import pipeline

SRT = """1
00:00:01,000 --> 00:00:03,000
同志们，今天我们学习党史。

2
00:00:05,250 --> 00:00:07,500
村里的合作社带动了猕猴桃种植，
大家的收入翻了一番。
"""


def test_a_spoken_sentence_finds_the_programme_and_the_moment(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    site: dict[str, str],
    ctx: pipeline.Context,
    tmp_path: Path,
) -> None:
    asset_id = upload_and_process(client, producer, ctx, make_media(tmp_path / "致富.mp4", seconds=9))
    pid = publish_programme(
        client, producer, admin, asset_id, title="乡村振兴 第3集", description="产业带头人"
    )
    other = upload_and_process(client, producer, ctx, make_media(tmp_path / "别的.mp4", seconds=8))
    publish_programme(client, producer, admin, other, title="党史故事", description="革命先辈")

    def search(q: str) -> list[dict[str, object]]:
        r = client.get("/api/v1/search", headers=site, params={"q": q})
        assert r.status_code == 200, r.text
        return list(r.json()["hits"])

    assert search("猕猴桃种植") == []  # not said anywhere yet
    # A published programme's captions: an administrator attaches them (as any edit of it).
    r = client.post(
        f"/api/v1/programmes/{pid}/captions",
        headers=admin,
        files={"file": ("第3集.srt", SRT.encode("gb18030"))},
        data={"language": "zh-Hans"},
    )
    assert r.status_code == 201, r.text

    hits = search("合作社带动猕猴桃种植")
    assert [h["programme"]["id"] for h in hits] == [pid]  # type: ignore[index]
    assert hits[0]["moment_seconds"] == 5.25
    assert "<mark>" in str(hits[0]["snippet_html"]) and "猕猴桃" in str(hits[0]["snippet_html"])
    # A hit on the page itself carries no moment; one said twice points at the first place.
    on_page = search("产业带头人")
    assert [h["programme"]["id"] for h in on_page] == [pid] and on_page[0]["moment_seconds"] is None  # type: ignore[index]
    assert search("学习党史")[0]["moment_seconds"] == 1.0

    # Removing the captions takes the sentence out of search.
    assert client.delete(f"/api/v1/programmes/{pid}/captions/zh-Hans", headers=admin).status_code == 204
    assert search("猕猴桃种植") == []


def test_an_index_of_the_old_schema_is_rebuilt(tmp_path: Path) -> None:
    """The captions field is a schema change: an index written before it reports itself outdated."""
    from whoosh import index as whoosh_index
    from whoosh.fields import ID, Schema

    (tmp_path / "ix").mkdir()
    whoosh_index.create_in(str(tmp_path / "ix"), Schema(id=ID(stored=True, unique=True)))
    index = SearchIndex(tmp_path / "ix")
    assert index.outdated()
    from datetime import UTC, datetime

    doc = SearchDoc(
        id="p1", title="标题", description="", tags=(), category="health", category_names="卫生健康 Health",
        kind="video", duration=9.0, required=False, published_at=datetime(2026, 12, 1, tzinfo=UTC),
        captions=((2.5, "按时接种疫苗"),),
    )  # fmt: skip
    assert index.rebuild([doc]) == 1 and not index.outdated()
    page = index.search("接种疫苗")
    assert [(h.id, h.moment) for h in page.hits] == [("p1", 2.5)]
