"""The site view's player component (hls.js), which old set-top box browsers need to play HLS.

`mediasrv-site` installed with `make`/`python -m mediasrv.web.vendor` has it in the package. A site
PC installed without the npm registry gets it from its mediasrv server instead: the sync run fetches
/static/vendor/hls.min.js once, checks it against the SHA-256 that vendor.json pins, and keeps it as
<dir>/vendor/hls.min.js. A village administrator never has to run a command for it.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import httpx

from mediasrv.agent.layout import Layout, write_atomic
from mediasrv.web.vendor import VENDOR, pinned_sha256

log = logging.getLogger("mediasrv.agent")

NAME = "hls.min.js"
URL_PATH = f"/static/vendor/{NAME}"
LIMIT = 5 * 1024 * 1024  # the file is about 400 KB; a bigger answer is not it


def path(layout: Layout) -> Path | None:
    """The player script to serve: the package's, else the copy fetched from the server."""
    return next((p for p in (VENDOR / NAME, layout.root / "vendor" / NAME) if p.is_file()), None)


def ensure(layout: Layout, client: httpx.Client) -> str | None:
    """Fetch the script from the server when this PC has none; None when there is one now, else why
    not (tried again next run: the line may be down)."""
    if path(layout) is not None:
        return None
    try:
        r = client.get(URL_PATH, timeout=60)
    except httpx.HTTPError as exc:
        return f"player component not fetched: {exc}"
    if r.status_code != 200 or len(r.content) > LIMIT:
        return f"player component not fetched: the server answered {r.status_code} for {URL_PATH}"
    if hashlib.sha256(r.content).hexdigest() != pinned_sha256(NAME):
        return f"player component refused: {URL_PATH} is not the pinned hls.js (vendor.json's sha256)"
    write_atomic(layout.root / "vendor" / NAME, r.content)
    log.info("player component fetched from the server (%d bytes)", len(r.content))
    return None
