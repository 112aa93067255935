"""The pages' third-party scripts (hls.js), pinned in vendor.json by version, by the npm registry's
sha512 integrity of the tarball and by the sha256 of each file kept. Two programs read the pins: the
server's installer (`python -m mediasrv.web.vendor`, which fetches them from npm into INSTALLED) and
the site agent, which checks a copy it fetches from its server instead (mediasrv.agent.player).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LOCK = Path(__file__).with_name("vendor.json")
# Where the installer puts the files (shipped as package data of mediasrv.web, not committed): the
# server serves them at /static/vendor/, and an agent installed from the same package plays with them.
INSTALLED = Path(__file__).parents[1] / "web" / "static" / "vendor"


class VendorError(RuntimeError):
    pass


def pins() -> dict[str, Any]:
    """vendor.json: package name -> {version, tarball, integrity, license, files, sha256}."""
    lock: dict[str, Any] = json.loads(LOCK.read_text(encoding="utf-8"))
    return lock


def pinned_sha256(name: str) -> str:
    """The SHA-256 vendor.json pins for an installed file (e.g. "hls.min.js")."""
    for spec in pins().values():
        if name in spec.get("sha256", {}):
            digest: str = spec["sha256"][name]
            return digest
    raise VendorError(f"vendor.json pins no file named {name}")
