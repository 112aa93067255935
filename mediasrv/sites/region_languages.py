"""A region's default languages (RegionLanguages) and a site's effective ones: its own when it chose
some, else the nearest region's above it (village, township, county, city, province, the whole
network), else none. The manifest build and the channel list read the effective ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.audit.service import Action, record
from mediasrv.kit.caller import Caller
from mediasrv.kit.regions import Scope, above, holding, under
from mediasrv.sites.models import RegionLanguages, Site
from mediasrv.sites.registry import regions_within


@dataclass(frozen=True)
class Effective:
    """A site's (or a region's) languages and where they come from: `source` None is the site's own
    choice, else the region that set them ('' the whole network)."""

    languages: tuple[str, ...]
    source: str | None


NONE = Effective((), None)


def set_region_languages(session: Session, *, actor: Caller, region: str, languages: Sequence[str]) -> str:
    """Set the languages of a region inside the actor's scope (none given: the scope itself; outside
    it: refused as every region-scoped write is, Scope.admit); [] removes them, and the region's
    sites inherit from above again. The region as stored. Its sites' manifests follow."""
    place = Scope.of(actor).admit(region)
    row = session.get(RegionLanguages, place)
    before = list(row.languages) if row is not None else []
    after = list(languages)
    if before == after:
        return place
    if not after:
        assert row is not None  # before != after == []
        session.delete(row)
    elif row is None:
        session.add(RegionLanguages(region=place, languages=after))
    else:
        row.languages = after  # a new list: the JSON column sees the change
    session.flush()
    epochs.bump(session, epochs.MANIFESTS)
    record(
        session,
        actor,
        Action.REGION_LANGUAGES,
        "region_languages",
        place,
        in_region=place,
        languages={"before": before, "after": after},
    )
    return place


def region_map(session: Session) -> dict[str, tuple[str, ...]]:
    """Every region that set languages (few rows): region -> its languages."""
    return {r.region: tuple(r.languages) for r in session.scalars(select(RegionLanguages))}


def inherited(regions: Mapping[str, Sequence[str]], region: str) -> Effective:
    """The languages of the nearest region at or above `region` that set some."""
    for place in [region, *reversed(above(region))]:
        found = regions.get(place)
        if found:
            return Effective(tuple(found), place)
    return NONE


def effective(site: Site, regions: Mapping[str, Sequence[str]]) -> Effective:
    """A site's languages: its own when it chose some, else its region's (`regions`: region_map)."""
    if site.languages:
        return Effective(tuple(site.languages), None)
    return inherited(regions, site.region)


def site_languages(session: Session, site: Site) -> tuple[str, ...]:
    """effective(site).languages with one query of the few regions holding the site (none when it
    chose its own)."""
    if site.languages:
        return tuple(site.languages)
    rows = session.scalars(select(RegionLanguages).where(holding(RegionLanguages.region, site.region)))
    return inherited({r.region: r.languages for r in rows}, site.region).languages


@dataclass(frozen=True)
class RegionRow:
    region: str
    languages: tuple[str, ...]  # the region's own ([] none set)
    effective: Effective  # what its sites without their own hold


def regions_languages(session: Session, bound: str) -> list[RegionRow]:
    """The regions at or below `bound` that have sites or set languages (`bound` first), each with
    its own languages and what its sites inherit."""
    regions = region_map(session)
    names = regions_within(session, bound)
    inside = session.scalars(select(RegionLanguages.region).where(under(RegionLanguages.region, bound)))
    names += sorted(set(inside) - set(names))
    return [RegionRow(n, regions.get(n, ()), inherited(regions, n)) for n in names]
