"""The viewing-evidence contract: how the site agent's LAN origin and the central HLS delivery count
what a player was served, so both sides count alike (mediasrv.agent.viewing counts at the site,
mediasrv.study.evidence centrally and stores both).

A player is an address and a User-Agent hashed with the site id (`player_id`): the server learns how
many players watched, never their addresses. A segment is its position in its media playlist
(`media_segments`), which the renditions of one presentation share (they are cut at the same
times), so a player switching rendition does not count a segment twice.
"""

from __future__ import annotations

import hashlib
import posixpath

# The User-Agent product of the site agent (mediasrv-site/<version>): its downloads of a site's
# cache are not viewing, so the central delivery counts no request that carries it.
AGENT_PRODUCT = "mediasrv-site/"
MAX_SEGMENT = 100_000  # a segment number beyond this is not a programme's (50 hours of 2 s segments)


def player_id(site_id: int, address: str, user_agent: str) -> str:
    """A player within a site: its address and User-Agent hashed with the site id (16 hex digits).
    Not reversible into the address without guessing it, and different at every site."""
    ua = hashlib.sha256(user_agent.encode(errors="replace")).hexdigest()[:8]
    return hashlib.sha256(f"{site_id}\n{address}\n{ua}".encode(errors="replace")).hexdigest()[:16]


def media_segments(text: str) -> list[tuple[str, float]]:
    """A media playlist's segments in order: (URI as written, #EXTINF seconds). The position in
    this list is the segment's number."""
    segments: list[tuple[str, float]] = []
    seconds: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            try:
                seconds = float(line[8:].split(",", 1)[0])
            except ValueError:
                seconds = None
        elif line and not line.startswith("#") and seconds is not None:
            segments.append((line, seconds))
            seconds = None
    return segments


def resolve(folder: str, uri: str) -> str | None:
    """A playlist's relative URI as a path beside it; None for absolute URLs or paths leaving it."""
    if "://" in uri or uri.startswith("/"):
        return None
    path = posixpath.normpath(posixpath.join(folder, uri.split("?", 1)[0]))
    return None if path.startswith("..") else path
