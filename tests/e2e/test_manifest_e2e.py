"""A site mirrors its caching manifest over real HTTP and plays the copy with the line down."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mediasrv.protocol.document import SIGNATURE_CONTEXT, list_digests, site_files
from tests.e2e.conftest import Tier
from tests.e2e.stack import Stack, ffprobe_url
from tests.mediafactory import hlscheck, make_media

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tier: Tier, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("e2e-manifest") / "var", **tier.env).start()
    try:
        yield s
    finally:
        s.stop()


def curl(url: str, token: str, *extra: str) -> tuple[dict[str, str], bytes]:
    """GET with curl (its own gzip decoder, not Python's): response headers and decoded body."""
    r = subprocess.run(
        ["curl", "-sS", "--compressed", "-D", "-", "-H", f"Authorization: Bearer {token}", *extra, url],
        capture_output=True,
        timeout=60,
        check=True,
    )
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    headers["status"] = lines[0].split()[1]
    return headers, body


def test_a_site_mirrors_its_manifest_and_plays_offline(stack: Stack, tmp_path: Path) -> None:
    film = make_media(tmp_path / "乡村振兴.mp4", seconds=8, width=320, height=180)
    asset = stack.wait(stack.upload(film)["id"])
    assert asset["status"] == "ready", asset["error"]
    api, admin = stack.url + "/api/v1", stack.admin
    stack.publish(asset["id"], "乡村振兴", "agri-tech")
    site = httpx.post(
        f"{api}/sites", headers=admin, json={"code": "xt-01", "name": "西塘村", "device_profile": "iptv"}
    ).json()
    token = httpx.post(f"{api}/tokens", headers=admin, json={"name": "agent", "site_id": site["id"]}).json()[
        "token"
    ]

    headers, body = curl(f"{api}/sites/{site['id']}/manifest", token)
    assert headers["status"] == "200" and headers["content-encoding"] == "gzip"
    key = Ed25519PublicKey.from_public_bytes(
        base64.b64decode(httpx.get(f"{api}/sites/manifest-key").json()["public_key"])
    )
    key.verify(
        base64.b64decode(headers["x-manifest-signature"]),
        SIGNATURE_CONTEXT + hashlib.sha256(body).hexdigest().encode(),
    )
    manifest = json.loads(body)
    again, _ = curl(f"{api}/sites/{site['id']}/manifest", token, "-H", f"If-None-Match: {headers['etag']}")
    assert again["status"] == "304"

    cache = tmp_path / "site-cache"
    lists = {}
    for sha in list_digests(manifest):  # what the site agent does: fetch each list, check its digest
        _, raw = curl(f"{api}/file-lists/{sha}", token)
        assert hashlib.sha256(raw).hexdigest() == sha
        lists[sha] = json.loads(raw)
    for f in site_files(manifest, lists):  # then every file: fetch, verify, keep
        _, data = curl(stack.url + f["url"], token)
        assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"], f["path"]
        (cache / f["path"]).parent.mkdir(parents=True, exist_ok=True)
        (cache / f["path"]).write_bytes(data)
    [entry] = manifest["programmes"]
    local = cache / entry["play"]
    hlscheck(str(local))  # the copy is a valid presentation on its own, read from disk
    streams = ffprobe_url(str(local))
    assert {s["codec_type"] for s in streams} == {"video", "audio"}
