"""The manifest document format, with no dependencies beyond the standard library: the server
(mediasrv.delivery.manifest.build builds it; its docstring describes every field) and the site agent
(which must start fast and small) share it.

Format 2 has two levels. A site's manifest names, per programme, the file lists it needs by SHA-256;
a file list is one immutable document per published (asset, generation, presentation) that names
every file (path, size, SHA-256). The signature over the site's manifest therefore covers each
list's digest, and a list is verified by hashing its bytes. Format 1 (every file in the site's
manifest) is still read, so that a site holding one upgrades without fetching its media again: the
paths on disk are the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

FORMAT = 2
# Entries of the collections are identified by these keys and kept sorted by them; the rank lives
# in the manifest's `order` (programme ids, best first), so a rank change rewrites one array, not
# every entry of a delta.
COLLECTIONS: dict[str, str] = {"programmes": "id", "dropped": "id"}
SIGNATURE_CONTEXT = b"mediasrv-manifest-v1:"
LIST_FORMAT = 1
LIST_PATH = "/api/v1/file-lists/"  # + the list's hex SHA-256
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def canonical(value: Any) -> bytes:
    """The one JSON encoding of manifests, file lists and deltas (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def list_url(sha256: str) -> str:
    return LIST_PATH + sha256


# --- reading a site's manifest ------------------------------------------------------------------


def flat(doc: Mapping[str, Any]) -> bool:
    """A manifest of format 1, which lists every file itself (and ranks its programmes in place)."""
    return bool(doc.get("format", 1) == 1)


def ranked(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The programmes a manifest holds, best first (required ones first, in curated order)."""
    if flat(doc):
        return sorted(doc["programmes"], key=lambda p: p["rank"])
    by_id = {p["id"]: p for p in doc["programmes"]}
    return [by_id[i] for i in doc["order"] if i in by_id]


def list_digests(doc: Mapping[str, Any]) -> list[str]:
    """The file lists a format-2 manifest names, in priority order, each once (none for format 1)."""
    if flat(doc):
        return []
    seen: dict[str, None] = {}
    for programme in ranked(doc):
        for item in programme["lists"]:
            seen.setdefault(item["sha256"], None)
    return list(seen)


def list_files(file_list: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A file list's files as a site holds them: path below the site's files/ (the asset's id, then
    the path in the list, which mirrors the URL below /hls/), SHA-256, size and URL."""
    asset = file_list["asset_id"]
    return [
        {
            "path": f"{asset}/{f['path']}",
            "sha256": f["sha256"],
            "size": f["size"],
            "url": f"/hls/{asset}/{f['path']}",
        }
        for f in file_list["files"]
    ]


def site_files(doc: Mapping[str, Any], lists: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every file a manifest asks for, by path: format 1 lists them itself; format 2 through its file
    lists (`lists`: parsed lists by SHA-256; a list not given contributes nothing)."""
    if flat(doc):
        return list(doc["files"])
    files: dict[str, dict[str, Any]] = {}
    for sha in list_digests(doc):
        if sha in lists:
            for entry in list_files(lists[sha]):
                files.setdefault(entry["path"], entry)
    return [files[p] for p in sorted(files)]


# --- deltas -----------------------------------------------------------------------------------


def diff(old: dict[str, Any], new: dict[str, Any], *, sha256: str | None = None) -> dict[str, Any]:
    """What turns manifest `old` into `new` (both of this FORMAT): every scalar of `new` that changed
    (and always format, site and version), and per collection the entries added or changed and the
    keys removed. Its size follows the change, not the catalog. `sha256`, the hex digest of `new`'s
    exact bytes, lets the receiver check what it rebuilt."""
    if old.get("format") != new.get("format"):
        raise ValueError("A delta joins two manifests of one format: send the full manifest.")
    always = ("format", "site", "version")
    delta = {k: v for k, v in new.items() if k not in COLLECTIONS and (k in always or old.get(k) != v)}
    delta["since"] = old["version"]
    if sha256 is not None:
        delta["sha256"] = sha256
    for name, key in COLLECTIONS.items():
        before = {e[key]: e for e in old[name]}
        after = {e[key]: e for e in new[name]}
        delta[name] = {
            "added": sorted((e for k, e in after.items() if before.get(k) != e), key=lambda e: e[key]),
            "removed": sorted(k for k in before if k not in after),
        }
    return delta


def apply_delta(old: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The manifest that `delta` (from old's version) leads to. What a site agent does; when the
    delta carries `sha256`, canonical(result) must hash to it."""
    if (
        delta["since"] != old["version"]
        or delta["site"]["id"] != old["site"]["id"]
        or delta["format"] != old.get("format")
    ):
        raise ValueError(
            f"This delta goes from version {delta['since']} of site {delta['site']['id']} (format "
            f"{delta['format']}), not from version {old['version']} of site {old['site']['id']} (format "
            f"{old.get('format')}): fetch the full manifest."
        )
    new = {k: v for k, v in old.items() if k not in COLLECTIONS}
    new |= {k: v for k, v in delta.items() if k not in COLLECTIONS and k not in ("since", "sha256")}
    for name, key in COLLECTIONS.items():
        entries = {e[key]: e for e in old[name]}
        for k in delta[name]["removed"]:
            entries.pop(k, None)
        for e in delta[name]["added"]:
            entries[e[key]] = e
        new[name] = [entries[k] for k in sorted(entries)]
    return new


# An offline bundle's files (mediasrv site-bundle export, mediasrv-site import); its file lists are
# in BUNDLE_LISTS/<sha256>.json, their exact bytes.
BUNDLE_MANIFEST, BUNDLE_SIGNATURE, BUNDLE_PUBLIC_KEY, BUNDLE_FILES, BUNDLE_LISTS = (
    "manifest.json",
    "manifest.sig",
    "key.pub",
    "files",
    "lists",
)
