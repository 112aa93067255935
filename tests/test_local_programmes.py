"""Local programmes (issue 19, part 5): a county's own film reaches the county's sites only. Never another
county's manifests, playlists, channel lists, playback or search, not even through a province's list
that names it; administrators publish only inside their scope and read what is published above it.
County B is A's look-alike (河北省/邢台 vs 河北省/邢台市): a comparison by string prefix fails here."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from mediasrv.accounts import service
from mediasrv.accounts.signing import sign_playback
from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role
from mediasrv.protocol.china import today_in_china
from mediasrv.sites.registry import create_site
from tests.fixtures import ACTOR, ReadyAsset, publish_programme

PROVINCE, COUNTY_A, COUNTY_B = "河北省", "河北省/邢台", "河北省/邢台市"
LOCAL, WIDE = "东村榜样党员的故事", "全省党课"


def _headers(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


@dataclass
class World:
    province: dict[str, str]
    admin_a: dict[str, str]
    admin_b: dict[str, str]
    producer_a: dict[str, str]
    sites: dict[str, tuple[int, dict[str, str]]]  # a, b (the look-alike), elsewhere in the province
    local: str  # county A's programme
    local_asset: str
    wide: str  # the whole network's


@pytest.fixture
def world(
    client: TestClient,
    db: Database,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
) -> World:
    with db.session_scope() as s:
        unit = service.create_org_unit(s, actor=ACTOR, name="邢台电教", region=COUNTY_A)
        _, producer_a = service.create_service_account(
            s, actor=ACTOR, name="a-producer", role=Role.PRODUCER, org_unit_id=unit.id
        )
        admins = {
            name: service.create_service_account(
                s, actor=ACTOR, name=f"admin-{name}", role=Role.ADMIN, region=region
            )[1]
            for name, region in (("province", PROVINCE), ("a", COUNTY_A), ("b", COUNTY_B))
        }
        sites = {}
        for key, region in (
            ("a", COUNTY_A + "/东村"),
            ("b", COUNTY_B + "/西塘村"),
            ("p", "河北省/保定市/北村"),
        ):
            site = create_site(s, actor=ACTOR, code=f"local-{key}", name=f"{key}活动室", region=region)
            _, token = service.create_token(s, actor=ACTOR, name=f"local-{key}", site_id=site.id)
            sites[key] = (site.id, _headers(token))
    wide = publish_programme(client, producer, admin, ready_asset(producer), title=WIDE)
    producer_a_h, admin_a = _headers(producer_a), _headers(admins["a"])
    asset = ready_asset(producer_a_h)
    # Made without a region: the department's county; published by the county's administrator.
    local = publish_programme(client, producer_a_h, admin_a, asset, title=LOCAL)
    return World(
        _headers(admins["province"]), admin_a, _headers(admins["b"]), producer_a_h, sites, local, asset, wide
    )


def _manifest_ids(client: TestClient, site: tuple[int, dict[str, str]]) -> list[str]:
    r = client.get(f"/api/v1/sites/{site[0]}/manifest", headers=site[1])
    assert r.status_code == 200, r.text
    order: list[str] = r.json()["order"]
    return order


def _search(client: TestClient, headers: dict[str, str], q: str = "") -> list[str]:
    r = client.get("/api/v1/search", headers=headers, params={"q": q})
    assert r.status_code == 200, r.text
    return [h["programme"]["title"] for h in r.json()["hits"]]


def test_a_local_programme_reaches_its_county_only(client: TestClient, world: World) -> None:
    a, b, elsewhere = world.sites["a"], world.sites["b"], world.sites["p"]
    assert client.get(f"/api/v1/programmes/{world.local}", headers=world.admin_a).json()["region"] == COUNTY_A
    # Manifests: A's site gets it; B's (the look-alike) and another county's never; the network's, all.
    assert set(_manifest_ids(client, a)) == {world.local, world.wide}
    assert _manifest_ids(client, b) == [world.wide] == _manifest_ids(client, elsewhere)
    # Playlists and channel lists.
    for site, wanted in ((a, {LOCAL, WIDE}), (b, {WIDE})):
        playlist = client.get(f"/api/v1/sites/{site[0]}/playlist", headers=site[1]).json()
        assert {i["title"] for i in playlist["items"]} == wanted
        channels = client.get(f"/api/v1/sites/{site[0]}/playlist.m3u8", headers=site[1]).text
        assert (LOCAL in channels) is (LOCAL in wanted) and WIDE in channels
    # Playback: a link signed for B's site plays the network's film, not A's local one.
    key: bytes = client.app.state.signing_key  # type: ignore[attr-defined]
    for site, plays in ((a, 200), (b, 404)):
        viewer = Caller(role=Role.SITE, name="site", via="signed", site_id=site[0])
        expires = int(time.time()) + 60
        signed = sign_playback(key, caller=viewer, asset_id=world.local_asset, expires=expires, generation=0)
        assert client.get(f"/s/{signed}/hls/{world.local_asset}/master.m3u8").status_code == plays
        assert (
            client.get(f"/api/v1/assets/{world.local_asset}/playback", headers=site[1]).status_code == plays
        )
    # Search: the sites' and the administrators'.
    assert set(_search(client, a[1])) == {LOCAL, WIDE} and _search(client, b[1]) == [WIDE]
    assert _search(client, b[1], "榜样") == [] and _search(client, a[1], "榜样") == [LOCAL]
    assert set(_search(client, world.admin_a)) == {LOCAL, WIDE} == set(_search(client, world.province))
    assert _search(client, world.admin_b) == [WIDE] and _search(client, world.admin_b, "榜样") == []


def test_a_provinces_list_naming_a_local_programme_does_not_carry_it_out(
    client: TestClient, world: World
) -> None:
    today = today_in_china().isoformat()
    body = {"title": "全省必学", "programme_ids": [world.local, world.wide], "starts_on": today,
            "ends_on": today, "regions": [PROVINCE]}  # fmt: skip
    made = client.post("/api/v1/study-lists", headers=world.province, json=body)
    assert made.status_code == 201, made.text
    published = client.post(f"/api/v1/study-lists/{made.json()['id']}/publish", headers=world.province)
    assert published.status_code == 200, published.text
    assert _manifest_ids(client, world.sites["a"]) == [world.local, world.wide]  # required, in order
    assert _manifest_ids(client, world.sites["b"]) == [world.wide]
    # County B's administrator reads the province's list without A's film in it; the province, whole.
    for who, titles in ((world.admin_b, [WIDE]), (world.province, [LOCAL, WIDE])):
        shown = client.get(f"/api/v1/study-lists/{made.json()['id']}", headers=who).json()
        assert [i["title"] for i in shown["items"]] == titles


def test_administrators_see_inside_and_above_their_scope_and_publish_inside_it(
    client: TestClient, world: World
) -> None:
    local, wide = world.local, world.wide
    # County B learns nothing of A's film; the province reads it; A reads the network's.
    assert client.get(f"/api/v1/programmes/{local}", headers=world.admin_b).status_code == 404
    listed = client.get("/api/v1/programmes", headers=world.admin_b).json()
    assert [p["title"] for p in listed["items"]] == [WIDE] and listed["total"] == 1
    assert client.get(f"/api/v1/programmes/{local}", headers=world.province).status_code == 200
    assert client.get(f"/api/v1/programmes/{wide}", headers=world.admin_a).status_code == 200
    assert client.get(f"/api/v1/assets/{world.local_asset}", headers=world.admin_b).status_code == 404
    assert client.get(f"/api/v1/assets/{world.local_asset}", headers=world.admin_a).status_code == 200
    # ...but A cannot change the network's: read-only, said in Chinese.
    above = client.patch(f"/api/v1/programmes/{wide}", headers=world.admin_a, json={"title": "改"})
    assert above.status_code == 403 and above.json()["code"] == "catalog.programme_above_scope"
    assert "管理范围" in above.json()["message"]
    # Publishing wider than the scope (the whole network, the province) or beside it: refused.
    for region in ("", PROVINCE, COUNTY_B):
        r = client.post(f"/api/v1/programmes/{local}/publish", headers=world.admin_a, json={"region": region})
        assert r.status_code == 403 and r.json()["code"] == "catalog.publish_outside_scope", r.text
        assert "管理范围" in r.json()["message"]
    # A narrower publication inside it is A's to make; the province widens it to the province.
    village = client.post(
        f"/api/v1/programmes/{local}/publish", headers=world.admin_a, json={"region": COUNTY_A + "/东村"}
    )
    assert village.status_code == 200 and village.json()["region"] == COUNTY_A + "/东村"
    wider = client.post(
        f"/api/v1/programmes/{local}/publish", headers=world.province, json={"region": PROVINCE}
    )
    assert wider.status_code == 200 and wider.json()["region"] == PROVINCE
    assert world.local in _manifest_ids(client, world.sites["b"])
    assert client.get(f"/api/v1/programmes/{local}", headers=world.admin_b).status_code == 200
    # Now the province's: county A reads it and may no longer withdraw it.
    withdrawn = client.post(f"/api/v1/programmes/{local}/withdraw", headers=world.admin_a, json={})
    assert withdrawn.status_code == 403


def test_a_producer_asks_only_within_its_departments_region(
    client: TestClient, world: World, ready_asset: ReadyAsset
) -> None:
    body = {"title": "邢台新片", "category": "party-spirit"}
    wide = client.post("/api/v1/programmes", headers=world.producer_a, json=body | {"region": PROVINCE})
    assert wide.status_code == 403 and "管理范围" in wide.json()["message"]
    village = client.post(
        "/api/v1/programmes", headers=world.producer_a, json=body | {"region": COUNTY_A + "/东村"}
    )
    assert village.status_code == 201 and village.json()["region"] == COUNTY_A + "/东村"
    # The county's producer sees the county's and the network's programmes (and its own drafts).
    titles = {p["title"] for p in client.get("/api/v1/programmes", headers=world.producer_a).json()["items"]}
    assert titles == {LOCAL, WIDE, "邢台新片"}


def _page_data(client: TestClient, path: str, who: dict[str, str]) -> dict[str, object]:
    page = client.get(path, headers=who)
    assert page.status_code == 200, page.text
    data: dict[str, object] = json.loads(page.text.split('id="page-data">', 1)[1].split("</script>", 1)[0])
    return data


def test_the_pages_offer_publication_regions_inside_the_scope_only(client: TestClient, world: World) -> None:
    """The region field of the publish form (administrators) and of the upload form (producers) is
    suggested only regions inside what the caller may publish or make for: the county's administrator
    and the county's producer see the county and its village, never the look-alike neighbour."""
    county = {"region_bound": COUNTY_A, "regions": [COUNTY_A, COUNTY_A + "/东村"]}
    for path in ("/ui/admin/programmes", f"/ui/programmes/{world.local}"):
        assert _page_data(client, path, world.admin_a) | county == _page_data(client, path, world.admin_a)
    assert _page_data(client, "/ui/upload", world.producer_a) | county == _page_data(
        client, "/ui/upload", world.producer_a
    )
    province = _page_data(client, "/ui/admin/programmes", world.province)
    assert province["region_bound"] == PROVINCE
    assert {COUNTY_A + "/东村", COUNTY_B + "/西塘村", "河北省/保定市/北村"} <= set(province["regions"])  # type: ignore[arg-type]
