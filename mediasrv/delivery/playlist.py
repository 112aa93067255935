"""What a site plays: required programmes for today first, in curated order, then optional ones.

Links are signed for the site and point at the presentation its device profile plays, so a set-top
box or VLC opens them without credentials. Expiries are rounded up to the hour, so the same catalog
state gives the same bytes (and ETag) within an hour.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.accounts.models import Caller, Role
from mediasrv.auth import sign_playback
from mediasrv.catalog.models import Programme, ProgrammeStatus, StudyKind
from mediasrv.catalog.service import lists_in_force
from mediasrv.delivery.models import Site
from mediasrv.delivery.sites import get_site

OPTIONAL_LIMIT = 200  # newest optional programmes listed after the curated ones
_EXPIRY_STEP = 3600


@dataclass(frozen=True)
class Entry:
    programme: Programme
    required: bool
    url: str
    poster_url: str | None


def signed_expiry(lifetime: int, *, now: float | None = None) -> int:
    """now + lifetime, rounded up to the next full hour (stable bytes within the hour)."""
    return math.ceil(((now if now is not None else time.time()) + lifetime) / _EXPIRY_STEP) * _EXPIRY_STEP


def chosen_programmes(session: Session, site: Site, *, on: date) -> list[tuple[Programme, bool]]:
    """(programme, required) for a site on a day, best first: the required lists in force for its
    region in curated order, then its optional lists in curated order, then the newest published
    programmes, up to OPTIONAL_LIMIT optional ones. The playlist and the caching manifest share it."""
    chosen: dict[str, tuple[Programme, bool]] = {}
    for kind in (StudyKind.REQUIRED, StudyKind.OPTIONAL):
        for study_list in lists_in_force(session, kind=kind, on=on, region=site.region):
            for item in study_list.items:
                if item.programme.status is ProgrammeStatus.PUBLISHED:
                    chosen.setdefault(item.programme_id, (item.programme, kind is StudyKind.REQUIRED))
    required = sum(1 for _, is_required in chosen.values() if is_required)
    newest = session.scalars(
        select(Programme)
        .where(Programme.status == ProgrammeStatus.PUBLISHED)
        .order_by(Programme.published_at.desc(), Programme.id)
        .limit(OPTIONAL_LIMIT + len(chosen))
    )
    for programme in newest:
        if len(chosen) >= required + OPTIONAL_LIMIT:
            break
        chosen.setdefault(programme.id, (programme, False))
    return list(chosen.values())


def site_playlist(
    session: Session, *, caller: Caller, site_id: int, on: date, base_url: str, key: bytes, lifetime: int
) -> tuple[Site, list[Entry]]:
    site = get_site(session, site_id, caller=caller)
    chosen = chosen_programmes(session, site, on=on)
    viewer = Caller(role=Role.SITE, name=f"site {site.code}", via="signed", site_id=site.id)
    expires = signed_expiry(lifetime)
    entries = []
    for programme, is_required in chosen:
        assert programme.asset_id is not None  # published programmes have their media
        prefix = (
            f"{base_url}/s/{sign_playback(key, caller=viewer, asset_id=programme.asset_id, expires=expires)}"
        )
        hls = f"{prefix}/hls/{programme.asset_id}"
        has_poster = programme.asset is not None and programme.asset.poster_key is not None
        entries.append(
            Entry(
                programme,
                is_required,
                f"{hls}/{site.device_profile.presentation}.m3u8",
                f"{hls}/poster.jpg" if has_poster else None,
            )
        )
    return site, entries


def m3u8_channel_list(site: Site, entries: list[Entry]) -> str:
    """An M3U8 channel list (#EXTM3U / #EXTINF) that IPTV boxes and VLC open as a playlist."""
    lines = ["#EXTM3U"]
    for e in entries:
        title = " ".join(e.programme.title.split())  # no line breaks inside #EXTINF
        group = "必学" if e.required else "选学"
        duration = round(e.programme.duration_seconds) if e.programme.duration_seconds else -1
        logo = f' tvg-logo="{e.poster_url}"' if e.poster_url else ""
        lines += [f'#EXTINF:{duration} tvg-id="{e.programme.id}" group-title="{group}"{logo},{title}', e.url]
    return "\n".join(lines) + "\n"
