"""The M3U8 channel list (#EXTM3U / #EXTINF) that IPTV set-top boxes and VLC open as a list of
programmes: the server writes it for a site (mediasrv.delivery.playlist, links to its HLS) and the
site agent for its LAN (mediasrv.agent.serve, links to its own copy). One writer, so a box sees the
same list from either."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

REQUIRED, OPTIONAL = "必学", "选学"  # the group-title a box shows the list under


def group_title(required: bool) -> str:
    return REQUIRED if required else OPTIONAL


@dataclass(frozen=True)
class Channel:
    """One programme of the list."""

    id: str
    title: str
    required: bool
    url: str
    duration_seconds: float | None = None
    poster_url: str | None = None
    group: str | None = None  # the group-title when it is not 必学/选学 (the site's own channel)


def language_channel(programme: Channel, language: str, name: str, url: str) -> Channel:
    """A programme's variant in one of the site's languages, for set-top boxes (they ignore HLS audio
    groups, so each language is an entry of its own): 「《title》藏语」, right after the programme."""
    return Channel(
        f"{programme.id}-{language}",
        f"《{programme.title}》{name}",
        programme.required,
        url,
        programme.duration_seconds,
        programme.poster_url,
        programme.group,
    )


def channel_list(channels: Iterable[Channel], *, tvg_url: str | None = None) -> str:
    """The list in the order given (required first, by rank: the caller's choice); `tvg_url`: where
    the programme guide (XMLTV) of its channels is."""
    lines = [f'#EXTM3U url-tvg="{tvg_url}"' if tvg_url else "#EXTM3U"]
    for c in channels:
        title = " ".join(c.title.split())  # no line breaks inside #EXTINF
        duration = round(c.duration_seconds) if c.duration_seconds else -1
        logo = f' tvg-logo="{c.poster_url}"' if c.poster_url else ""
        group = c.group or group_title(c.required)
        lines += [
            f'#EXTINF:{duration} tvg-id="{c.id}" group-title="{group}"{logo},{title}',
            c.url,
        ]
    return "\n".join(lines) + "\n"
