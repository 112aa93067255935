"""HTTP as both origins serve stored bytes and playlists: the server (mediasrv.kit.http) and the site
agent's LAN origin (mediasrv.agent.serve) parse Range and match If-None-Match here, alike."""

from __future__ import annotations

import re

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"  # HLS playlists
# Channel lists (an M3U of programmes for IPTV boxes and VLC): VLC hands the HLS type to its HLS
# module, which rejects a list of playlists; ExoPlayer takes application/x-mpegurl for HLS too.
CHANNEL_LIST_TYPE = "audio/x-mpegurl"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(ValueError):
    """The Range lies wholly outside the object: answer 416 with Content-Range: bytes */<size>."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for a single 'bytes=' range, None to send the whole object.

    Multi-range and malformed headers are ignored (RFC 9110 lets a server send the full body).
    """
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or (not m[1] and not m[2]):
        return None
    if not m[1]:  # suffix: the last N bytes
        n = int(m[2])
        if n == 0:
            raise Unsatisfiable("Requested an empty suffix range.")
        return max(0, size - n), size - 1
    first = int(m[1])
    last = min(int(m[2]), size - 1) if m[2] else size - 1
    if first >= size or last < first:
        raise Unsatisfiable(f"Range {header} is outside the object's {size} bytes.")
    return first, last


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Does an If-None-Match header name `etag` (or say `*`)? Then the answer is 304."""
    if if_none_match is None:
        return False
    return if_none_match.strip() == "*" or etag in [t.strip() for t in if_none_match.split(",")]
