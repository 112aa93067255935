"""What a site plays: required programmes for today first, in curated order, then optional ones.

Links are signed for the site and point at the presentation its device profile plays, so a set-top
box or VLC opens them without credentials. They hold at least a day, as long as a box keeps a list,
and each fetch renews them; expiries are rounded up to the hour, so the same catalog state gives the
same bytes (and ETag) within an hour. A withdrawn programme stops playing at once all the same
(mediasrv.delivery.scope), and so do all of a site's links when one of its tokens is revoked (they
name its link generation: mediasrv.accounts.auth.SiteLinks). The channel list itself opens with
the site's key (`channel_list_url`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.accounts.signing import sign_channel_list, sign_playback
from mediasrv.catalog.models import Programme, ProgrammeStatus
from mediasrv.delivery.service import language_presentation
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.regions import holding
from mediasrv.media import languages
from mediasrv.protocol import china
from mediasrv.protocol.channels import Channel, channel_list, language_channel
from mediasrv.sites.models import Site
from mediasrv.sites.region_languages import site_languages
from mediasrv.sites.registry import get_site
from mediasrv.study.lists import layer_key, region_matches
from mediasrv.study.models import StudyKind, StudyList, StudyListItem, StudyListStatus

OPTIONAL_LIMIT = 200  # newest optional programmes listed after the curated ones
_EXPIRY_STEP = 3600
LIST_LINK_SECONDS = 24 * 3600  # a box keeps a channel list a day: its links must outlast that


@dataclass(frozen=True)
class Entry:
    programme: Programme
    required: bool
    url: str
    poster_url: str | None
    languages: tuple[tuple[str, str, str], ...] = ()  # (tag, Chinese name, url): boxes' language variants


def signed_expiry(lifetime: int, *, now: float | None = None) -> int:
    """now + lifetime, rounded up to the next full hour (stable bytes within the hour)."""
    moment = now if now is not None else china.utc_now().timestamp()
    return math.ceil((moment + lifetime) / _EXPIRY_STEP) * _EXPIRY_STEP


def list_link_seconds(lifetime: int) -> int:
    """How long the links of a site's playlist hold: the signed-link lifetime, but at least a day."""
    return max(lifetime, LIST_LINK_SECONDS)


def channel_list_url(base_url: str, key: bytes, site_id: int, generation: int) -> str:
    """The link a site's boxes and VLC open its M3U channel list with: no header needed
    (generation: mediasrv.accounts.service.site_link_generation)."""
    signed = sign_channel_list(key, site_id=site_id, generation=generation)
    return f"{base_url.rstrip('/')}/api/v1/sites/{site_id}/playlist.m3u8?key={signed}"


def chosen_ids(
    session: Session, site: Site, *, on: date, scheduled: Sequence[str] = ()
) -> list[tuple[str, bool]]:
    """(programme id, required) for a site on a day, best first: the required lists in force for its
    region in curated order, then `scheduled` (what the site's channel plays, its card first: the
    manifest passes them, already published to the site), then its optional lists in curated order,
    then the newest published programmes, up to OPTIONAL_LIMIT optional ones. Plain rows, no ORM
    objects: the caching manifest is built from these at thousands of programmes (chosen_programmes
    loads them for the playlist)."""
    in_force = session.execute(
        select(StudyList.id, StudyList.kind, StudyList.regions, StudyList.region, StudyList.starts_on).where(
            StudyList.status == StudyListStatus.PUBLISHED,
            StudyList.starts_on <= on,
            StudyList.ends_on >= on,
        )
    ).all()
    # Layered as lists_in_force layers them (the province's first), without loading the lists.
    in_force = sorted(in_force, key=lambda r: layer_key(r.region, r.starts_on, r.id))
    mine = [(r.id, r.kind) for r in in_force if region_matches(site.region, r.regions)]
    items: dict[int, list[str]] = {i: [] for i, _ in mine}
    # Published to the site's region or above it: another county's local film never reaches it, not
    # even through a wider list that names it.
    for_site = holding(Programme.region, site.region)
    if items:
        for list_id, programme_id in session.execute(
            select(StudyListItem.study_list_id, StudyListItem.programme_id)
            .join(Programme, Programme.id == StudyListItem.programme_id)
            .where(
                StudyListItem.study_list_id.in_(items),
                Programme.status == ProgrammeStatus.PUBLISHED,
                for_site,
            )
            .order_by(StudyListItem.study_list_id, StudyListItem.position)
        ):
            items[list_id].append(programme_id)
    chosen: dict[str, bool] = {}
    for kind in (StudyKind.REQUIRED, StudyKind.OPTIONAL):
        for list_id, list_kind in mine:
            if list_kind is kind:
                for programme_id in items[list_id]:
                    chosen.setdefault(programme_id, kind is StudyKind.REQUIRED)
        if kind is StudyKind.REQUIRED:
            # Before the optional lists: under a quota, what the channel plays is kept first.
            for programme_id in scheduled:
                chosen.setdefault(programme_id, False)
    required = sum(1 for is_required in chosen.values() if is_required)
    newest = session.scalars(
        select(Programme.id)
        .where(Programme.status == ProgrammeStatus.PUBLISHED, for_site)
        .order_by(Programme.published_at.desc(), Programme.id)
        .limit(OPTIONAL_LIMIT + len(chosen))
    )
    for programme_id in newest:
        if len(chosen) >= required + OPTIONAL_LIMIT:
            break
        chosen.setdefault(programme_id, False)
    return list(chosen.items())


def chosen_programmes(session: Session, site: Site, *, on: date) -> list[tuple[Programme, bool]]:
    """chosen_ids with the programmes loaded (the playlist shows their titles and links)."""
    chosen = chosen_ids(session, site, on=on)
    loaded = {
        p.id: p for p in session.scalars(select(Programme).where(Programme.id.in_([i for i, _ in chosen])))
    }
    return [(loaded[i], required) for i, required in chosen]


def site_playlist(
    session: Session,
    *,
    caller: Caller,
    site_id: int,
    on: date,
    base_url: str,
    key: bytes,
    lifetime: int,
    generation: int,
) -> tuple[Site, list[Entry]]:
    """The site's programmes with links signed for it at its link `generation`
    (mediasrv.accounts.service.site_link_generation): revoking one of its tokens stops them."""
    site = get_site(session, site_id, caller=caller)
    chosen = chosen_programmes(session, site, on=on)
    held = site_languages(session, site)  # its own, else its region's
    viewer = Caller(role=Role.SITE, name=Caller.site_name(site.code), via="signed", site_id=site.id)
    expires = signed_expiry(lifetime)
    entries = []
    for programme, is_required in chosen:
        assert programme.asset_id is not None  # published programmes have their media
        signed = sign_playback(
            key, caller=viewer, asset_id=programme.asset_id, expires=expires, generation=generation
        )
        prefix = f"{base_url}/s/{signed}"
        hls = f"{prefix}/hls/{programme.asset_id}"
        has_poster = programme.asset is not None and programme.asset.poster_key is not None
        presentation = site.device_profile.presentation
        entries.append(
            Entry(
                programme,
                is_required,
                f"{hls}/{presentation}.m3u8",
                f"{hls}/poster.jpg" if has_poster else None,
                tuple(
                    (lang, languages.name(lang), f"{hls}/{variant}.m3u8")
                    for lang, variant in box_variants(programme, presentation, held)
                ),
            )
        )
    return site, entries


def box_variants(programme: Programme, presentation: str, chosen: Sequence[str]) -> list[tuple[str, str]]:
    """(language, presentation) of each of the site's languages a set-top box presentation of the
    programme has ("iptv-bo"); none for phones, whose master offers its languages in a menu."""
    if presentation == "master" or programme.asset is None or not chosen:
        return []
    names = {r.name for r in programme.asset.renditions}
    return [
        (lang, language_presentation(presentation, lang))
        for lang in chosen
        if language_presentation(presentation, lang) in names
    ]


def m3u8_channel_list(site: Site, entries: list[Entry]) -> str:
    """An M3U8 channel list (#EXTM3U / #EXTINF) that IPTV boxes and VLC open as a playlist; each
    programme followed by its variants in the site's languages (「《title》藏语」)."""
    listed: list[Channel] = []
    for e in entries:
        own = Channel(
            e.programme.id, e.programme.title, e.required, e.url, e.programme.duration_seconds, e.poster_url
        )
        listed.append(own)
        listed += [language_channel(own, lang, name, url) for lang, name, url in e.languages]
    return channel_list(listed)
