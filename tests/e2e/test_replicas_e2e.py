"""Two API processes behind Debian's nginx with plain round-robin (no sticky routing), each with a data
directory of its own, sharing only the database and object storage: a resumable upload sent with a
real tus client, broken off mid-PATCH and resumed by a new client, lands its chunks on both, and the
asset holds exactly the file's bytes."""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.storage.filestorage import FileStorage

from tests.e2e.conftest import Tier
from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.nginxserver import NginxServer, NginxUnavailable, nginx_binary
from tests.servers import unavailable

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
PART = 5 * MiB  # the smallest S3 allows: a 12 MiB file makes two whole parts and a short last one
CHUNK = MiB  # tuspy's PATCHes: each part is made of pieces sent to both processes
TUS = {"Tus-Resumable": "1.0.0"}


class Held(io.BytesIO):
    """The file's bytes for tuspy, which closes a stream after fingerprinting it, then reads it again."""

    def close(self) -> None:
        pass


@dataclass
class Replicas:
    stack: Stack  # process "a" (with the database's accounts); "b" is stack.extra[0]
    nginx: NginxServer
    logs: tuple[str, str]  # each process's log name

    def patches(self, upload_id: str) -> tuple[int, int]:
        """How many PATCHes of the upload each process answered (its access log lines)."""
        line = re.compile(rf"PATCH /api/v1/uploads/{upload_id} 204 ")
        a, b = (len(line.findall(self.stack.log_tail(name, n=10**8))) for name in self.logs)
        return a, b


@pytest.fixture(scope="module")
def replicas(tier: Tier, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    try:
        nginx_binary()
    except NginxUnavailable as exc:
        unavailable("NGINX", "replicas", exc)
    tmp = tmp_path_factory.mktemp(f"e2e-replicas-{tier.name}")
    shared = tmp / "shared"  # the embedded tier's database, objects and broker: named, not implied
    shared.mkdir()
    env = {
        "database_url": f"sqlite:///{shared / 'mediasrv.db'}",
        "storage_url": f"file://{shared / 'objects'}",
        "broker_url": f"sqla+sqlite:///{shared / 'broker.db'}",
        **tier.env,
        "secret_key": secrets.token_hex(32),  # one key for every process's signed links
        "upload_part_bytes": str(PART),
    }
    # The worker takes no transcode: the filler after the film's first bytes would not play.
    stack = Stack(tmp / "a", queues="default", **env).start()
    nginx: NginxServer | None = None
    try:
        b = stack.replica("b")
        nginx = NginxServer(tmp / "nginx", upstream=[f"127.0.0.1:{stack.port}", b.removeprefix("http://")])
        nginx.start()
        yield Replicas(stack, nginx, ("server", "b"))
    finally:
        if nginx is not None:
            nginx.stop()
        stack.stop()


def film_of(path: Path, size: int) -> bytes:
    """A real film's first bytes (it sniffs as media), then filler up to `size`."""
    data = bytearray(make_media(path.with_suffix(".head.mp4"), seconds=1, width=160, height=90).read_bytes())
    counter = 0
    while len(data) < size:
        data += hashlib.sha256(str(counter).encode()).digest() * 512
        counter += 1
    path.write_bytes(bytes(data[:size]))
    return bytes(data[:size])


def broken_patch(base: str, path: str, headers: dict[str, str], offset: int, body: bytes, sent: int) -> None:
    """A PATCH whose line drops after `sent` of its bytes (a laptop's lid closing mid-chunk)."""
    host, _, port = base.removeprefix("http://").partition(":")
    head = {
        **headers,
        **TUS,
        "Host": f"{host}:{port}",
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": str(offset),
        "Content-Length": str(len(body)),
    }
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        request = f"PATCH {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
        sock.sendall(request.encode() + body[:sent])
        time.sleep(0.5)  # what was sent reaches the process before the line drops


def offset(url: str, headers: dict[str, str]) -> int:
    r = httpx.head(url, headers={**headers, **TUS}, timeout=30)
    assert r.status_code == 200, r.text
    return int(r.headers["Upload-Offset"])


def test_an_upload_resumed_across_two_processes_keeps_every_byte(replicas: Replicas, tmp_path: Path) -> None:
    stack, nginx = replicas.stack, replicas.nginx
    data = film_of(tmp_path / "县委党校 专题讲座.mp4", 12 * MiB + 4321)
    urls = FileStorage(str(tmp_path / "tus-urls.json"))  # what tuspy keeps between runs
    first = TusClient(f"{nginx.url}/api/v1/uploads", headers=stack.headers).uploader(
        file_stream=Held(data),
        chunk_size=CHUNK,
        metadata={"filename": "县委党校 专题讲座.mp4", "title": "专题讲座"},
        store_url=True,
        url_storage=urls,
    )
    first.upload(stop_at=3 * CHUNK)  # three PATCHes, then the program is closed
    urls.close()
    upload_url = first.url
    assert upload_url is not None and upload_url.startswith(nginx.url)
    upload_id = upload_url.rsplit("/", 1)[1]

    # The line drops in the middle of a PATCH: what reached a process is kept, by whichever took it.
    broken_patch(
        nginx.url, upload_url.removeprefix(nginx.url), stack.headers, 3 * CHUNK, data[3 * CHUNK :], MiB
    )
    deadline = time.monotonic() + 30
    while (kept := offset(upload_url, stack.headers)) == 3 * CHUNK and time.monotonic() < deadline:
        time.sleep(0.2)
    assert 3 * CHUNK < kept <= 4 * CHUNK, kept

    # Later a new client finds the upload by the file's fingerprint, asks where it stands, goes on.
    urls = FileStorage(str(tmp_path / "tus-urls.json"))
    second = TusClient(f"{nginx.url}/api/v1/uploads", headers=stack.headers).uploader(
        file_stream=Held(data), chunk_size=CHUNK, store_url=True, url_storage=urls
    )
    assert (second.url, second.offset) == (upload_url, kept)
    second.upload()
    urls.close()

    asset_id = second.request.response_headers["upload-asset-id"]
    asset = httpx.get(f"{nginx.url}/api/v1/assets/{asset_id}", headers=stack.headers, timeout=30).json()
    assert (asset["sha256"], asset["size_bytes"]) == (hashlib.sha256(data).hexdigest(), len(data))
    assert (asset["filename"], asset["title"]) == ("县委党校 专题讲座.mp4", "专题讲座")
    source = httpx.get(f"{nginx.url}/api/v1/assets/{asset_id}/source", headers=stack.headers, timeout=60)
    assert source.status_code == 200 and source.content == data
    a, b = replicas.patches(upload_id)
    assert a >= 2 and b >= 2, f"round-robin gave the PATCHes to a: {a}, b: {b}"
    # Either process answers for the finished upload (a client that lost the last answer asks again).
    for _ in range(2):
        r = httpx.head(upload_url, headers={**stack.headers, **TUS}, timeout=30)
        assert (r.headers["Upload-Offset"], r.headers["Upload-Asset-Id"]) == (str(len(data)), asset_id)
