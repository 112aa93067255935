"""The site's own channel on `mediasrv-site serve`: the live playlist plays what the guide says (a
property over schedules and cache contents), refreshes agree with each other, the guide is XMLTV at
Beijing times, the channel list offers the channel first, and its segments count as viewing."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import m3u8
import pytest
from fastapi.testclient import TestClient as FastAPIClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mediasrv.agent.channel import NUMBERS_PER_DAY, replaced_path, replacements
from mediasrv.agent.layout import Layout
from mediasrv.agent.reports import recent_replacements
from mediasrv.agent.serve import create_app
from mediasrv.agent.viewing import queue_path
from mediasrv.db import Database
from mediasrv.protocol.china import CHINA, today_in_china
from mediasrv.protocol.document import list_digests, list_url
from mediasrv.sites.schemas import HeartbeatIn
from tests.agent.channelsite import Film, build
from tests.agent.test_serve import make_site, mirror
from tests.fixtures import ReadyAsset

MONDAY = datetime(2026, 12, 7, tzinfo=CHINA)
FILMS = [
    Film("p1", "党的二十大精神", (6.0, 6.0, 3.2), required=True),
    Film("p2", "乡村振兴战略", (6.0, 4.0)),
    Film("p3", "法治乡村", (6.0, 6.0, 6.0, 1.5)),
]
EVENING = {
    "timezone": "Asia/Shanghai",
    "blocks": [
        {"id": "b1", "weekday": 1, "start": "19:00", "end": "19:01", "title": "周一晚学习", "required": True,
         "programmes": ["p3", "p1"], "region": "浙江省"},
    ],
    "filler": ["p2"],
    "card": None,
}  # fmt: skip


class Box:
    """A player on the LAN whose clock the test moves."""

    def __init__(self, layout: Layout, when: datetime) -> None:
        self.when = when
        self.client = TestClient(
            create_app(layout, now=lambda: self.when), base_url="http://192.168.1.20:8080"
        )

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def playlist(self) -> m3u8.M3U8:
        r = self.get("/channel.m3u8")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        return m3u8.loads(r.text, uri="http://192.168.1.20:8080/channel.m3u8")

    def guide_at(self, when: datetime) -> dict[str, Any] | None:
        """The slot the guide says plays at `when`, asked at that time."""
        now, self.when = self.when, when
        try:
            days = self.get("/epg.json", params={"hours": 1}).json()["days"]
        finally:
            self.when = now
        for day in days:
            for s in day["slots"]:
                if datetime.fromisoformat(s["start"]) <= when < datetime.fromisoformat(s["end"]):
                    return dict(s)
        return None


def programme_of(uri: str) -> str:
    found = re.search(r"files/a-([^/]+)/", uri)
    assert found, uri
    return found.group(1)


@pytest.fixture
def evening(tmp_path: Path) -> Layout:
    return build(tmp_path / "site", FILMS, EVENING, missing={"p3"})


def test_the_channel_plays_the_block_with_a_replacement_announced_and_noted(evening: Layout) -> None:
    box = Box(evening, MONDAY + timedelta(hours=19, seconds=8))
    playlist = box.playlist()
    assert not playlist.is_endlist and playlist.target_duration == 6
    *_, before, first, newest = playlist.segments
    assert (
        programme_of(newest.uri) == programme_of(first.uri) == "p1"
    )  # p3 is not all on disk: the next stands in
    assert first.discontinuity and first.program_date_time == MONDAY + timedelta(hours=19)
    assert not newest.discontinuity and newest.current_program_date_time == MONDAY + timedelta(
        hours=19, seconds=6
    )
    assert programme_of(before.uri) == "p2" and before.current_program_date_time < MONDAY + timedelta(
        hours=19
    )
    guide = box.get("/epg.json").json()
    assert guide["current"]["programme_id"] == "p1" and guide["current"]["replaced_id"] == "p3"
    assert (
        guide["current"]["replaced_title"] == "法治乡村" and guide["current"]["block_title"] == "周一晚学习"
    )
    assert guide["next"]["programme_id"] == "p1" and guide["next"]["reason"] == "scheduled"
    noted = replacements(evening)
    assert [(n["programme_id"], n["replacement_id"], n["block"]) for n in noted] == [("p3", "p1", "b1")]
    box.playlist()
    assert len(replacements(evening)) == 1  # once per slot, however many refreshes
    assert guide["replacements"] == noted or box.get("/epg.json").json()["replacements"] == noted


def test_every_refresh_parses_and_agrees_with_the_ones_before(evening: Layout) -> None:
    box = Box(evening, MONDAY + timedelta(hours=18, minutes=59, seconds=30))
    seen: dict[int, tuple[str, datetime | None, int]] = {}
    last_sequence, targets = 0, set()
    while box.when < MONDAY + timedelta(hours=19, minutes=1, seconds=40):
        playlist = box.playlist()
        assert not playlist.is_endlist and len(playlist.segments) <= 6
        assert playlist.media_sequence >= last_sequence  # numbers only grow
        last_sequence = playlist.media_sequence
        targets.add(playlist.target_duration)
        breaks = playlist.discontinuity_sequence
        for n, s in enumerate(playlist.segments, start=playlist.media_sequence):
            breaks += bool(s.discontinuity)
            assert seen.setdefault(n, (s.uri, s.current_program_date_time, breaks)) == (
                s.uri,
                s.current_program_date_time,
                breaks,
            ), f"segment {n} changed between refreshes"
            assert s.current_program_date_time <= box.when
            if s.discontinuity:
                assert s.program_date_time is not None
        box.when += timedelta(seconds=1.7)
    assert targets == {6}
    assert {programme_of(u) for u, _, _ in seen.values()} == {"p1", "p2"}


def test_numbers_grow_across_midnight(evening: Layout) -> None:
    box = Box(evening, MONDAY - timedelta(seconds=5))
    before = box.playlist()
    box.when = MONDAY + timedelta(seconds=1)
    after = box.playlist()
    assert after.media_sequence > before.media_sequence + len(before.segments)
    assert after.discontinuity_sequence > before.discontinuity_sequence
    assert after.media_sequence == MONDAY.date().toordinal() * NUMBERS_PER_DAY
    assert len(after.segments) == 1 and after.segments[0].discontinuity


def test_nothing_cached_answers_503_in_chinese(tmp_path: Path) -> None:
    layout = build(tmp_path / "site", FILMS[:1], None, missing={"p1"})
    r = Box(layout, MONDAY).get("/channel.m3u8")
    assert r.status_code == 503 and "本站频道" in r.text


def test_the_guide_is_xmltv_at_beijing_times_for_seven_days(evening: Layout) -> None:
    box = Box(evening, MONDAY + timedelta(hours=18, minutes=59, seconds=55))
    r = box.get("/epg.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    tv = ET.fromstring(r.content)  # noqa: S314 (our own server's answer)
    (channel,) = tv.findall("channel")
    assert channel.get("id") == "mediasrv-xitang" and channel.findtext("display-name") == "本站频道"
    shows = tv.findall("programme")
    times = [p.get("start", "") for p in shows] + [p.get("stop", "") for p in shows]
    assert all(re.fullmatch(r"\d{14} \+0800", t) for t in times)
    start = {p.get("start"): p for p in shows}
    at_seven = start["20261207190000 +0800"]
    assert at_seven.findtext("title") == "党的二十大精神" and at_seven.findtext("category") == "必学"
    assert "代替尚未下载完的《法治乡村》" in (at_seven.findtext("desc") or "")
    assert max(times) >= "20261214185955 +0800"  # a week ahead
    assert shows[0].get("start", "") <= "20261207185955 +0800"  # from what plays now


def test_the_channel_list_offers_the_channel_first_and_names_the_guide(evening: Layout) -> None:
    text = Box(evening, MONDAY).get("/playlist.m3u8").text
    lines = text.splitlines()
    assert lines[0] == '#EXTM3U url-tvg="http://192.168.1.20:8080/epg.xml"'
    assert lines[1] == '#EXTINF:-1 tvg-id="mediasrv-xitang" group-title="本站频道",本站频道'
    assert lines[2] == "http://192.168.1.20:8080/channel.m3u8"
    assert 'group-title="必学",党的二十大精神' in lines[3]


def test_channel_segments_count_as_viewing_of_their_programme(evening: Layout) -> None:
    box = Box(evening, MONDAY + timedelta(hours=19, seconds=8))
    newest = box.playlist().segments[-1]
    r = box.get(newest.absolute_uri, headers={"User-Agent": "IPTV STB"})
    assert r.status_code == 200
    lines = [json.loads(line) for line in queue_path(evening).read_text().splitlines()]
    assert [(e["programme_id"], e["segment"], e["day"]) for e in lines] == [
        ("p1", 1, today_in_china().isoformat())
    ]  # the PC's day


# --- the property -------------------------------------------------------------------------------

IDS = ["p1", "p2", "p3", "p4"]
SEGMENTS = st.lists(st.sampled_from([1.5, 2.0, 4.0, 6.0]), min_size=1, max_size=4).map(tuple)


@st.composite
def blocks(draw: st.DrawFn) -> list[dict[str, Any]]:
    minutes = sorted(draw(st.sets(st.integers(0, 8), min_size=0, max_size=6)))
    found = []
    for n, (a, b) in enumerate(zip(minutes[::2], minutes[1::2], strict=False)):
        found.append(
            {"id": f"b{n}", "weekday": 1, "start": f"19:{a:02d}", "end": f"19:{b:02d}", "title": f"时段{n}",
             "required": draw(st.booleans()), "region": "",
             "programmes": draw(st.lists(st.sampled_from([*IDS, "gone"]), max_size=4))}
        )  # fmt: skip
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lengths=st.lists(SEGMENTS, min_size=len(IDS), max_size=len(IDS)),
    held=st.sets(st.sampled_from(IDS)),
    listed=st.sets(st.sampled_from(IDS), min_size=1),
    schedule=st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {
                "timezone": st.just("Asia/Shanghai"),
                "blocks": blocks(),
                "filler": st.lists(st.sampled_from([*IDS, "gone"]), max_size=3),
                "card": st.one_of(st.none(), st.sampled_from(IDS)),
            }
        ),
    ),
    seconds=st.lists(  # after Beijing midnight, around the evening's blocks, and just after their edges
        st.one_of(
            st.floats(0, 120),
            st.floats(18 * 3600 + 58 * 60, 19 * 3600 + 10 * 60),
            st.tuples(st.integers(0, 8), st.floats(-5, 30)).map(lambda mt: 19 * 3600 + mt[0] * 60 + mt[1]),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_the_playlist_at_any_time_plays_what_the_guide_says(
    lengths: list[tuple[float, ...]],
    held: set[str],
    listed: set[str],
    schedule: dict[str, Any] | None,
    seconds: list[float],
) -> None:
    films = [Film(p, f"节目{p}", lengths[n], required=n == 0) for n, p in enumerate(IDS) if p in listed]
    with tempfile.TemporaryDirectory() as tmp:
        layout = build(Path(tmp) / "site", films, schedule, missing=listed - held)
        box = Box(layout, MONDAY)
        for s in seconds:
            box.when = MONDAY + timedelta(seconds=s)
            check_once(box, films)


def check_once(box: Box, films: list[Film]) -> None:
    r = box.get("/channel.m3u8")
    now = box.guide_at(box.when)
    assert now is not None
    if r.status_code == 503:  # nothing played lately: a gap, or a slot too short for a segment
        assert now["programme_id"] is None or _just_begun(now, box.when, max(max(f.segments) for f in films))
        return
    playlist = m3u8.loads(r.text)
    for seg in playlist.segments:  # each segment plays what the guide says all the while it plays
        start = seg.current_program_date_time
        said = box.guide_at(start + timedelta(seconds=seg.duration / 2))
        assert said is not None and said["programme_id"] == programme_of(seg.uri), (seg.uri, start, said)
        end = start + timedelta(seconds=seg.duration)
        assert datetime.fromisoformat(said["start"]) <= start and end <= datetime.fromisoformat(said["end"])
    for a, b in pairwise(playlist.segments):  # never late: a segment ends before the next begins
        assert a.current_program_date_time + timedelta(seconds=a.duration) <= b.current_program_date_time
    newest = playlist.segments[-1]
    newest_end = newest.current_program_date_time + timedelta(seconds=newest.duration)
    if box.when < newest_end:  # and at `now`: the guide's programme, or its announced replacement
        assert now["programme_id"] == programme_of(newest.uri)
    else:  # after the newest segment: a gap, or what is left of a slot shorter than a segment
        assert now["programme_id"] is None or _just_begun(now, box.when, playlist.target_duration)


def _just_begun(slot: dict[str, Any], when: datetime, longest: float) -> bool:
    """A slot whose first segment does not fit in it (a block's end cuts it) began under a segment ago."""
    start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
    return (when - start).total_seconds() < longest and (end - start).total_seconds() < longest


def test_the_site_view_shows_the_channel_now_next_and_the_week_in_chinese(evening: Layout) -> None:
    box = Box(evening, MONDAY + timedelta(hours=19, seconds=8))
    page = box.get("/").text
    channel = page.split("<section class='channel'", 1)[1].split("</section>", 1)[0]
    assert "本站频道" in channel and "data-src='/channel.m3u8'" in channel
    now = channel.split("id='channel-now'>", 1)[1].split("</dd>", 1)[0]
    assert now == "19:00–19:00 党的二十大精神 · 周一晚学习（必学时段） · 代替《法治乡村》（尚未下载完）"
    assert "id='channel-next'>19:00–19:00 党的二十大精神" in channel
    days = re.findall(r"<summary data-nav>([^<]+)</summary>", channel)
    assert days[:2] == ["周一 12月7日", "周二 12月8日"] and len(days) in (7, 8)
    assert page.index("<section class='channel'") < page.index('class="group required"')  # first


def test_a_block_end_drops_the_segment_it_would_cut_rather_than_run_late(evening: Layout) -> None:
    # b1 ends at 19:01: p1 twice (30.4 s), then the filler p2 (6 + 4 s) from 19:00:30.4, whose second
    # turn has 9.6 s left: its 4 s segment would end at 19:01:00.4, so it is left out (a 3.6 s gap).
    playlist = Box(evening, MONDAY + timedelta(hours=19, minutes=1, seconds=2)).playlist()
    timed = [
        (programme_of(s.uri), s.current_program_date_time.strftime("%H:%M:%S.%f")[:12])
        for s in playlist.segments
    ]
    assert timed[-3:] == [("p2", "19:00:46.400"), ("p2", "19:00:50.400"), ("p2", "19:01:00.000")]
    assert playlist.segments[-1].discontinuity


# --- through the centre: the schedule an administrator sets reaches the site in its manifest --------


def test_a_block_set_at_the_centre_plays_on_the_sites_channel(
    client: FastAPIClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    tmp_path: Path,
) -> None:
    site = make_site(client, db, producer, admin, ready_asset)
    block = {"weekday": 1, "start": "19:30", "end": "21:00", "title": "周一晚间学习", "source": "programmes",
             "programme_ids": [site.optional]}  # fmt: skip
    made = client.post("/api/v1/schedule-blocks", headers=admin, json=block)
    assert made.status_code == 201, made.text
    r = client.get(f"/api/v1/sites/{site.id}/manifest", headers=site.headers)
    doc = r.json()
    assert doc["schedule"]["blocks"][0]["programmes"] == [site.optional]
    lists = {sha: client.get(list_url(sha), headers=site.headers).content for sha in list_digests(doc)}
    layout = Layout(tmp_path / "mediasrv-site")
    mirror(client, replace(site, raw=r.content, doc=doc, lists=lists), layout)

    box = Box(layout, MONDAY + timedelta(hours=19, minutes=30, milliseconds=500))  # the films are short
    newest = box.playlist().segments[-1]
    optional = next(p for p in doc["programmes"] if p["id"] == site.optional)
    assert newest.uri.startswith(f"files/{optional['asset_id']}/") and newest.discontinuity
    guide = box.get("/epg.json").json()["current"]
    assert (guide["programme_id"], guide["block_title"]) == (site.optional, "周一晚间学习")
    shows = ET.fromstring(box.get("/epg.xml").content).findall("programme")  # noqa: S314 (our own answer)
    at_half_past = [p for p in shows if p.get("start") == "20261207193000 +0800"]
    assert [p.findtext("title") for p in at_half_past] == ["乡村 振兴 战略"]  # on one line


def test_the_heartbeat_carries_the_channels_recent_replacements_in_the_centres_shape(
    evening: Layout,
) -> None:
    now = datetime.now(CHINA)
    lines = [
        {"day": "x", "block": "b1", "start": (now - timedelta(days=3)).isoformat(), "programme_id": "p9",
         "replacement_id": "p1"},  # too old to say again
        {"day": "x", "block": "b1", "start": (now - timedelta(hours=2)).isoformat(), "programme_id": "p3",
         "replacement_id": "p1"},
        {"day": "x", "start": "not a time", "programme_id": "p4"},  # a line cut short or edited by hand
        {"day": "x", "block": None, "start": (now - timedelta(minutes=5)).isoformat(), "programme_id": "p5",
         "replacement_id": None},
    ]  # fmt: skip
    with replaced_path(evening).open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    recent = recent_replacements(evening)
    assert [(r["programme_id"], r["replacement_id"], r["block"]) for r in recent] == [
        ("p5", None, None),
        ("p3", "p1", "b1"),
    ]
    body = {"manifest_version": 1, "bytes_missing": 0, "files_missing": 0, "files_failed": 0,
            "agent_version": "1.0.0", "channel_replaced": recent}  # fmt: skip
    HeartbeatIn.model_validate(body)  # what the centre accepts
