"""Install the pages' third-party scripts from the npm registry (`python -m mediasrv.web.vendor`).

Each package pinned in mediasrv/protocol/vendor.json (by version and the registry's sha512
integrity; the site agent reads the same pins) is fetched as its tarball, verified, and the listed
files copied into static/vendor/ (not committed). No Node.js, no build step: the pages load these
files as they are.
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

from mediasrv.protocol.vendor import INSTALLED, VendorError, pins


def _verify(name: str, data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise VendorError(f"{name}: the tarball does not match vendor.json's integrity; not installed")


def install(target: Path = INSTALLED) -> list[Path]:
    """Fetch what is missing or stale; returns the files written."""
    lock = pins()
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
    print(f"vendor: {len(written)} files installed in {INSTALLED}" if written else "vendor: up to date")


if __name__ == "__main__":
    main()
