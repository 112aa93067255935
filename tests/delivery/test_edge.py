"""GET /api/v1/edge/hls-access: what nginx asks before serving a cached HLS file (auth_request)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from mediasrv.accounts.signing import sign_playback
from mediasrv.kit.caller import Caller, Role
from tests.fixtures import ReadyAsset, publish_programme, statements

ACCESS = "/api/v1/edge/hls-access"
ASSET = "a" * 32
FILE = "0123456789ab/mobile-90p/seg_00000.ts"
VIEWER = Caller(role=Role.SITE, name="site-1", via="signed", site_id=1)


def ask(client: TestClient, uri: str | None, headers: dict[str, str] | None = None) -> int:
    sent = dict(headers or {})
    if uri is not None:
        sent["X-Original-URI"] = uri
    r = client.get(ACCESS, headers=sent)
    if r.status_code == 204:
        assert r.content == b""
    else:
        assert r.json()["message"], r.text  # the app's reason, which nginx passes on
    return r.status_code


def signature(client: TestClient, asset_id: str = ASSET, *, expires_in: int = 60) -> str:
    key: bytes = client.app.state.signing_key  # type: ignore[attr-defined]
    expires = int(time.time()) + expires_in
    return sign_playback(key, caller=VIEWER, asset_id=asset_id, expires=expires, generation=0)


@pytest.fixture
def published(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> str:
    """A published programme's asset: what sites may play."""
    asset = ready_asset(producer)
    publish_programme(client, producer, admin, asset)
    return asset


def test_bearer_paths_need_a_viewer(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], site: dict[str, str], published: str
) -> None:
    uri = f"/hls/{published}/{FILE}"
    assert [ask(client, uri, h) for h in (producer, admin, site)] == [204, 204, 204]
    assert ask(client, uri) == 401
    assert ask(client, uri, {"Authorization": "Bearer not-a-token"}) == 401
    assert ask(client, uri + "?anything=1", site) == 204  # nginx keys without the query


def test_signed_paths_need_their_signature_only(
    client: TestClient, site: dict[str, str], published: str
) -> None:
    good = signature(client, published)
    assert ask(client, f"/s/{good}/hls/{published}/{FILE}") == 204  # a set-top box: no header at all
    refused = {
        "another asset": f"/s/{signature(client, 'b' * 32)}/hls/{published}/{FILE}",
        "expired": f"/s/{signature(client, published, expires_in=-1)}/hls/{published}/{FILE}",
        "tampered": f"/s/{good.replace('site-1.', 'site-2.')}/hls/{published}/{FILE}",
        "garbage": f"/s/garbage/hls/{published}/{FILE}",
    }
    for why, uri in refused.items():
        assert ask(client, uri) == 401, why
        assert ask(client, uri, site) == 401, why  # a token does not rescue a bad signature


def test_signed_paths_cost_no_query(client: TestClient, published: str) -> None:
    uri = f"/s/{signature(client, published)}/hls/{published}/{FILE}"
    assert ask(client, uri) == 204  # the first reads what is published, once per change
    with statements(client.app) as said:  # type: ignore[arg-type]
        assert ask(client, uri) == 204
    assert said == []


@pytest.mark.parametrize(
    "uri",
    [
        "/api/v1/audit",  # a viewer's token is for HLS only, here
        "/hls",
        f"/hls/{ASSET}/../{ASSET}/{FILE}",  # nginx resolves "..": a raw one is not what it keys
        f"/hls/{ASSET}/%2E%2E/{ASSET}/{FILE}",
        f"/hls/{ASSET}/./{FILE}",
    ],
)
def test_other_paths_are_forbidden(client: TestClient, site: dict[str, str], uri: str) -> None:
    assert ask(client, uri, site) == 403


def test_a_signature_cannot_be_walked_to_another_asset(client: TestClient) -> None:
    mine = signature(client)
    assert ask(client, f"/s/{mine}/hls/{ASSET}/../{'b' * 32}/{FILE}") == 403
    assert ask(client, f"/s/{mine}/hls/{ASSET}/%2e%2e/{'b' * 32}/{FILE}") == 403


def test_without_the_header_nginx_is_misconfigured(client: TestClient, site: dict[str, str]) -> None:
    assert ask(client, None) == 401  # credentials first, as on every route
    assert ask(client, None, site) == 400  # nginx reports a 500: not a refusal


def test_the_answer_is_the_one_the_hls_route_gives(
    client: TestClient, site: dict[str, str], published: str
) -> None:
    asset = published
    master = client.get(f"/hls/{asset}/master.m3u8", headers=site).text
    media = next(line for line in master.splitlines() if line.endswith(".m3u8"))
    folder = media.rpartition("/")[0]
    segment = next(
        line
        for line in client.get(f"/hls/{asset}/{media}", headers=site).text.splitlines()
        if line.endswith(".ts")
    )
    name = f"{folder}/{segment}"
    signed = signature(client, asset)
    cases = [
        (f"/hls/{asset}/{name}", site),
        (f"/hls/{asset}/{name}", {}),
        (f"/hls/{asset}/{name}", {"Authorization": "Bearer nope"}),
        (f"/s/{signed}/hls/{asset}/{name}", {}),
        (f"/s/{signature(client, 'b' * 32)}/hls/{asset}/{name}", {}),
    ]
    answers = [
        (ask(client, uri, headers), client.get(uri, headers=headers).status_code) for uri, headers in cases
    ]
    assert answers == [(204, 200), (401, 401), (401, 401), (204, 200), (401, 401)]
