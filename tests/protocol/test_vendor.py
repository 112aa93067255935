"""The hls.js pins: read by the server's installer and the agent's check from one vendor.json, which
ships with the package."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from mediasrv.protocol.vendor import INSTALLED, LOCK, VendorError, pinned_sha256, pins

ROOT = Path(__file__).parents[2]


def test_the_pins_name_hls_js_and_the_installed_copy_matches_them() -> None:
    lock = pins()
    assert lock["hls.js"]["tarball"].startswith("https://") and lock["hls.js"]["integrity"].startswith(
        "sha512-"
    )
    digest = pinned_sha256("hls.min.js")
    assert len(digest) == 64
    installed = INSTALLED / "hls.min.js"  # `make vendor` put it there (the server serves it)
    assert installed.is_file() and hashlib.sha256(installed.read_bytes()).hexdigest() == digest
    with pytest.raises(VendorError, match=r"pins no file named nothing\.js"):
        pinned_sha256("nothing.js")


def test_vendor_json_ships_as_package_data_of_the_protocol() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = config["tool"]["setuptools"]["package-data"]["mediasrv.protocol"]
    assert LOCK.name in shipped and LOCK.parent == ROOT / "mediasrv" / "protocol"
