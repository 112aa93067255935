"""The manifest document format, with no dependencies beyond the standard library: the server
(mediasrv.delivery.manifest.build builds it) and the site agent (which must start fast and small) share it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

FORMAT = 1
# Entries of the three collections are identified by these keys and kept in this order.
COLLECTIONS: dict[str, str] = {"files": "path", "programmes": "id", "dropped": "programme_id"}
_ORDER: dict[str, Callable[[dict[str, Any]], Any]] = {
    "files": lambda e: e["path"],
    "programmes": lambda e: e["rank"],
    "dropped": lambda e: e["rank"],
}
SIGNATURE_CONTEXT = b"mediasrv-manifest-v1:"


def canonical(value: Any) -> bytes:
    """The one JSON encoding of manifests and deltas (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- deltas -----------------------------------------------------------------------------------


def diff(old: dict[str, Any], new: dict[str, Any], *, sha256: str | None = None) -> dict[str, Any]:
    """What turns manifest `old` into `new`: every scalar of `new`, and per collection the entries
    added or changed and the keys removed. Its size follows the change, not the catalog. `sha256`,
    the hex digest of `new`'s exact bytes, lets the receiver check what it rebuilt."""
    delta = {k: v for k, v in new.items() if k not in COLLECTIONS}
    delta["since"] = old["version"]
    if sha256 is not None:
        delta["sha256"] = sha256
    for name, key in COLLECTIONS.items():
        before = {e[key]: e for e in old[name]}
        after = {e[key]: e for e in new[name]}
        delta[name] = {
            "added": sorted((e for k, e in after.items() if before.get(k) != e), key=_ORDER[name]),
            "removed": sorted(k for k in before if k not in after),
        }
    return delta


def apply_delta(old: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The manifest that `delta` (from old's version) leads to. What a site agent does; when the
    delta carries `sha256`, canonical(result) must hash to it."""
    if delta["since"] != old["version"] or delta["site"]["id"] != old["site"]["id"]:
        raise ValueError(
            f"This delta goes from version {delta['since']} of site {delta['site']['id']}, "
            f"not from version {old['version']} of site {old['site']['id']}: fetch the full manifest."
        )
    new = {k: v for k, v in delta.items() if k not in COLLECTIONS and k not in ("since", "sha256")}
    for name, key in COLLECTIONS.items():
        entries = {e[key]: e for e in old[name]}
        for k in delta[name]["removed"]:
            entries.pop(k, None)
        for e in delta[name]["added"]:
            entries[e[key]] = e
        new[name] = sorted(entries.values(), key=_ORDER[name])
    return new


# An offline bundle's files (mediasrv site-bundle export, mediasrv-site import).
BUNDLE_MANIFEST, BUNDLE_SIGNATURE, BUNDLE_PUBLIC_KEY, BUNDLE_FILES = (
    "manifest.json",
    "manifest.sig",
    "key.pub",
    "files",
)
