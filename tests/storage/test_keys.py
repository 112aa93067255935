"""storage.keys: the one place the object layout is spelled."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mediasrv.storage import keys

ROOT = Path(__file__).resolve().parents[2]
# The layout's top folders: a string that starts with one of them builds a key by hand.
TOP_FOLDERS = ("hls/", "sources/", "study/")


def test_layout_is_what_stores_already_hold() -> None:
    # Objects written by earlier versions stay where they are: these spellings must not change.
    sha = "ab" + "0" * 62
    assert keys.source(sha) == f"sources/ab/{sha}"
    assert keys.asset_prefix("a1") == "hls/a1/"
    assert keys.generation_prefix("a1", "g1") == "hls/a1/g1/"
    assert keys.generation_file("a1", "g1", "mobile/index.m3u8") == "hls/a1/g1/mobile/index.m3u8"
    assert keys.hls_file("a1/g1/poster.jpg") == "hls/a1/g1/poster.jpg"
    assert keys.session_photo(7, "s1", sha, ".jpg") == f"study/7/s1/{sha}.jpg"


def test_paths_and_keys_round_trip() -> None:
    key = keys.generation_file("a1", "g1", "iptv/seg_00000.ts")
    assert keys.generation_path(key) == ("g1", "iptv/seg_00000.ts")
    assert keys.asset_path("a1", key) == "g1/iptv/seg_00000.ts"
    assert keys.hls_file("a1/" + keys.asset_path("a1", key)) == key


@pytest.mark.parametrize(
    "make",
    [
        lambda: keys.generation_file("a1", "..", "x.ts"),
        lambda: keys.generation_file("a1", "g1", "../../b2/g2/x.ts"),
        lambda: keys.generation_file("a1/b2", "g1", "x.ts"),  # an id is one folder, never a path
        lambda: keys.generation_prefix("a1", ""),
        lambda: keys.asset_prefix(".."),
        lambda: keys.hls_file("a1//x.ts"),
        lambda: keys.source("ab/../../x"),
        lambda: keys.session_photo(1, "../s", "ab", ".jpg"),
        lambda: keys.asset_path("a1", "hls/a10/g1/x.ts"),  # another asset's output
        lambda: keys.generation_path("hls/a1/x.ts"),  # not inside a generation
        lambda: keys.generation_path("sources/ab/abc"),
    ],
)
def test_keys_that_could_leave_their_folder_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def _strings(tree: ast.AST) -> set[tuple[int, str]]:
    """Every string literal, and the literal start of every f-string, with its line."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            found.add((node.lineno, str(node.values[0].value)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add((node.lineno, node.value))
    return found


def test_only_storage_keys_spells_the_layout() -> None:
    """A key spelled by hand elsewhere drifts from the layout (and from the sites' manifests)."""
    owner = ROOT / "mediasrv" / "storage" / "keys.py"
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text[:40]!r}"
        for folder in ("mediasrv", "workers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != owner and "migrations" not in path.parts
        for line, text in sorted(_strings(ast.parse(path.read_text(encoding="utf-8"))))
        if text.startswith(TOP_FOLDERS)
    ]
    assert offenders == [], "use mediasrv.storage.keys instead:\n" + "\n".join(offenders)
