"""Master playlists as a site's players see them: naming only what the site holds.

A site holds the languages it chose (its manifest's lists), but the mobile master it keeps is the one
the server publishes, declaring every language of the film: rewriting that file would break the
SHA-256 its list verifies, and a master per set of languages would multiply the lists sites share.
So the file on disk stays as verified, and the agent drops, as it serves it, each rendition
(EXT-X-MEDIA) and variant (EXT-X-STREAM-INF) whose playlist it does not hold; a player never offers a
language whose files are not here (a Tibetan track still downloading, or never chosen)."""

from __future__ import annotations

import re
from collections.abc import Callable

_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^",]*)')
# A variant's attributes that name a group of EXT-X-MEDIA renditions, by the renditions' TYPE.
_GROUP_OF = {"AUDIO": "AUDIO", "SUBTITLES": "SUBTITLES"}


def _attrs(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTR.findall(line.split(":", 1)[1])}


def held_master(text: str, held: Callable[[str], bool]) -> str:
    """`text` (a master playlist) less what `held` (a URI as the master writes it, relative to its
    folder) says the site lacks; a group every rendition of which is gone is no longer named by the
    variants. Unchanged text when everything is held: the same bytes as on disk."""
    lines = text.splitlines()
    kept: list[str] = []
    groups: dict[tuple[str, str], int] = {}  # (TYPE, GROUP-ID) -> renditions kept
    dropped = False
    at = 0
    while at < len(lines):
        line = lines[at]
        at += 1
        if line.startswith("#EXT-X-MEDIA:"):
            attrs = _attrs(line)
            key = (attrs.get("TYPE", ""), attrs.get("GROUP-ID", ""))
            groups.setdefault(key, 0)
            if "URI" in attrs and not held(attrs["URI"]):
                dropped = True
                continue
            groups[key] += 1
        elif line.startswith("#EXT-X-STREAM-INF:"):
            uri_at = next(
                (i for i in range(at, len(lines)) if lines[i] and not lines[i].startswith("#")), None
            )
            if uri_at is not None and not held(lines[uri_at]):
                dropped, at = True, uri_at + 1  # the variant and its URI line
                continue
        kept.append(line)
    if not dropped:
        return text
    empty = {key for key, n in groups.items() if n == 0}
    return (
        "\n".join(_without(line, empty) if line.startswith("#EXT-X-STREAM-INF:") else line for line in kept)
        + "\n"
    )


def _without(line: str, empty: set[tuple[str, str]]) -> str:
    """A variant no longer naming the groups left without renditions."""
    tag, attrs = line.split(":", 1)
    parts = [
        (k, v)
        for k, v in _ATTR.findall(attrs)
        if not (k in _GROUP_OF and (_GROUP_OF[k], v.strip('"')) in empty)
    ]
    return tag + ":" + ",".join(f"{k}={v}" for k, v in parts)
