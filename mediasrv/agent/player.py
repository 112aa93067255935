"""The site view's player component (hls.js), which old set-top box browsers need to play HLS.

`mediasrv-site` installed with `make`/`python -m mediasrv.web.vendor` has it in the package
(protocol.vendor.INSTALLED). A site
PC installed without the npm registry gets it from its mediasrv server instead: the sync run fetches
/static/vendor/hls.min.js once, checks it against the SHA-256 that vendor.json pins, and keeps it as
<dir>/vendor/hls.min.js. A village administrator never has to run a command for it. When the
server's copy is not the pinned one (a server of another version), the attempt is noted in
<dir>/vendor/hls.min.js.refused with its time and made again at most once a day, not at every sync.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from mediasrv.agent.layout import Layout, write_atomic
from mediasrv.protocol.vendor import INSTALLED, pinned_sha256

log = logging.getLogger("mediasrv.agent")

NAME = "hls.min.js"
URL_PATH = f"/static/vendor/{NAME}"
LIMIT = 5 * 1024 * 1024  # the file is about 400 KB; a bigger answer is not it
RETRY_REFUSED = timedelta(days=1)  # a server whose copy is not the pinned one is asked again after this


def path(layout: Layout) -> Path | None:
    """The player script to serve: the package's, else the copy fetched from the server."""
    return next((p for p in (INSTALLED / NAME, layout.root / "vendor" / NAME) if p.is_file()), None)


def refused_path(layout: Layout) -> Path:
    """The note of the last fetch whose bytes were not the pinned hls.js: its time, ISO 8601 UTC."""
    return layout.root / "vendor" / f"{NAME}.refused"


def _refused_lately(layout: Layout, now: datetime) -> datetime | None:
    """When the server last sent another script than the pinned one, if less than a day ago."""
    try:
        at = datetime.fromisoformat(refused_path(layout).read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None
    if at.tzinfo is None:
        return None
    return at if now - RETRY_REFUSED < at <= now else None  # a note from the future: the clock moved


def ensure(layout: Layout, client: httpx.Client, *, now: datetime | None = None) -> str | None:
    """Fetch the script from the server when this PC has none; None when there is one now, else why
    not (tried again next run when the line was down; a day later when the server's copy was not
    the pinned one)."""
    if path(layout) is not None:
        return None
    now = now or datetime.now(UTC)
    if (at := _refused_lately(layout, now)) is not None:
        return (
            f"player component not fetched: the server's {URL_PATH} was not the pinned hls.js "
            f"at {at.isoformat(timespec='seconds')}; asked again a day later"
        )
    digest = hashlib.sha256()
    data = bytearray()
    try:
        with client.stream("GET", URL_PATH, timeout=60) as r:
            if r.status_code != 200:
                return f"player component not fetched: the server answered {r.status_code} for {URL_PATH}"
            if int(r.headers.get("content-length") or 0) > LIMIT:
                return f"player component not fetched: {URL_PATH} is over {LIMIT // 2**20} MB, not hls.js"
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > LIMIT:
                    return f"player component not fetched: {URL_PATH} is over {LIMIT // 2**20} MB, not hls.js"
                digest.update(chunk)
    except (httpx.HTTPError, ValueError) as exc:  # ValueError: a Content-Length that is no number
        return f"player component not fetched: {exc}"
    if digest.hexdigest() != pinned_sha256(NAME):
        write_atomic(refused_path(layout), now.isoformat().encode())
        return f"player component refused: {URL_PATH} is not the pinned hls.js (vendor.json's sha256)"
    write_atomic(layout.root / "vendor" / NAME, bytes(data))
    refused_path(layout).unlink(missing_ok=True)
    log.info("player component fetched from the server (%d bytes)", len(data))
    return None
