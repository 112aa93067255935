"""Install the pages' third-party scripts from the npm registry (`python -m mediasrv.web.vendor`).

Each package in vendor.json is pinned by version and by the registry's sha512 integrity, fetched as
its tarball, verified, and the listed files copied into static/vendor/ (not committed). No Node.js,
no build step: the pages load these files as they are. A file a site agent fetches from the server
instead (agent.player) is checked against its pinned sha256 (`pinned_sha256`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
LOCK = HERE / "vendor.json"
VENDOR = HERE / "static" / "vendor"


class VendorError(RuntimeError):
    pass


def _verify(name: str, data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise VendorError(f"{name}: the tarball does not match vendor.json's integrity; not installed")


def pinned_sha256(name: str) -> str:
    """The SHA-256 vendor.json pins for an installed file (e.g. "hls.min.js")."""
    for spec in json.loads(LOCK.read_text()).values():
        if name in spec.get("sha256", {}):
            digest: str = spec["sha256"][name]
            return digest
    raise VendorError(f"vendor.json pins no file named {name}")


def install(target: Path = VENDOR) -> list[Path]:
    """Fetch what is missing or stale; returns the files written."""
    lock = json.loads(LOCK.read_text())
    target.mkdir(parents=True, exist_ok=True)
    stamp = target / ".installed.json"
    if stamp.exists() and json.loads(stamp.read_text()) == lock:
        return []
    written = []
    for name, spec in lock.items():
        url = spec["tarball"]
        if not url.startswith("https://"):
            raise VendorError(f"{name}: only https tarballs are fetched, not {url}")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310  # https only, checked above
                data = response.read()
        except OSError as exc:
            raise VendorError(f"{name}: cannot download {url} ({exc}); check the network or a proxy") from exc
        _verify(name, data, spec["integrity"])
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member, out in spec["files"].items():
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise VendorError(f"{name}: {member} is not a file in {url}")
                data = extracted.read()
                pinned = spec.get("sha256", {}).get(out)
                if pinned is not None and hashlib.sha256(data).hexdigest() != pinned:
                    raise VendorError(f"{name}: {out} does not match vendor.json's sha256; not installed")
                path = target / out
                path.write_bytes(data)
                written.append(path)
    stamp.write_text(json.dumps(lock))
    return written


def main() -> None:
    try:
        written = install()
    except VendorError as exc:
        sys.exit(f"vendor: {exc}")
    print(f"vendor: {len(written)} files installed in {VENDOR}" if written else "vendor: up to date")


if __name__ == "__main__":
    main()
