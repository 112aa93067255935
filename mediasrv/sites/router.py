"""The site registry's HTTP layer (/api/v1/sites: register, import, change and list sites, and the link
a site's boxes open its channel list with). Heartbeats and the fleet views are mediasrv.fleet.router's;
what a site plays and caches (its playlist, channel list and manifest) is mediasrv.delivery.router's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from mediasrv.accounts.auth import AdminDep, ScopeDep, ScopedRegion
from mediasrv.accounts.service import site_link_generation
from mediasrv.delivery import playlist
from mediasrv.deps import SessionDep
from mediasrv.kit.errors import MediaError, error_responses
from mediasrv.kit.i18n import Text, choose_lang, json_params
from mediasrv.kit.params import RowId
from mediasrv.sites import region_languages, registry
from mediasrv.sites.models import Site
from mediasrv.sites.registry import CSV_COLUMNS, CSV_COLUMNS_ZH
from mediasrv.sites.schemas import (
    CellProblemOut,
    ChannelListLink,
    RegionLanguagesIn,
    RegionLanguagesOut,
    RowError,
    SiteImport,
    SiteIn,
    SiteLanguagesOut,
    SiteOut,
    SitePatch,
)

# --- the registry ---------------------------------------------------------------------------------

registry_router = APIRouter(
    prefix="/api/v1/sites", tags=["sites"], responses=error_responses(400, 401, 403, 404, 409, 413, 422)
)

_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": f"header: {','.join(CSV_COLUMNS)} (or {','.join(CSV_COLUMNS_ZH)})",
                }
            }
        },
    }
}


@registry_router.post("", status_code=201, response_model=SiteOut)
def create_site(body: SiteIn, caller: AdminDep, session: SessionDep) -> SiteOut:
    """Register a terminal site; give it a token with POST /api/v1/tokens {site_id}."""
    return SiteOut.model_validate(registry.create_site(session, actor=caller, **body.model_dump()))


@registry_router.post("/import", response_model=SiteImport, openapi_extra=_CSV_BODY)
async def import_sites(request: Request, caller: AdminDep, session: SessionDep) -> SiteImport:
    """Register many sites from CSV (UTF-8 or GB18030), its first line naming the columns in English or
    Chinese; each bad row is reported with every problem it has and imports nothing, the good rows are
    kept."""
    data = await request.body()  # at most admission.CSV_CAP: mediasrv.admission counts it as it comes
    result = await run_in_threadpool(
        registry.import_sites, session, actor=caller, text=registry.decode_csv(data)
    )
    lang = choose_lang(request.headers, request.cookies, request.query_params)
    return SiteImport(
        created=[SiteOut.model_validate(s) for s in result.created],
        errors=[
            RowError(
                line=bad.row,
                message=bad.render(lang),
                problems=[
                    CellProblemOut(
                        column=p.column, message=p.render(lang), code=p.key, params=json_params(p.params)
                    )
                    for p in bad.problems
                ],
            )
            for bad in result.errors
        ],
    )


@registry_router.patch("/{site_id}", response_model=SiteOut)
def update_site(site_id: RowId, body: SitePatch, caller: AdminDep, session: SessionDep) -> SiteOut:
    """Change a site's name, region, device profile, quota, download window, bandwidth cap or languages; its
    caching manifest and playlist follow at the next poll."""
    fields = body.model_dump(exclude_unset=True)
    if "languages" in fields and fields["languages"] is None:  # null clears them, as [] does
        fields["languages"] = []
    for required in ("name", "region", "device_profile"):
        if required in fields and fields[required] is None:
            raise MediaError("sites.field_required", field=Text(f"field.{required}"))
    return SiteOut.model_validate(registry.update_site(session, actor=caller, site_id=site_id, **fields))


@registry_router.get("", response_model=list[SiteOut])
def list_sites(caller: AdminDep, scope: ScopeDep, session: SessionDep) -> list[SiteOut]:
    """The sites of your scope."""
    return [SiteOut.model_validate(s) for s in registry.list_sites(session, scope=scope)]


@registry_router.get("/{site_id}", response_model=SiteLanguagesOut)
def get_site(site_id: RowId, caller: AdminDep, session: SessionDep) -> SiteLanguagesOut:
    """A site of your scope, with the languages its manifest holds (its own, else its region's)."""
    site = registry.get_site(session, site_id, caller=caller)
    return with_languages(site, region_languages.region_map(session))


def with_languages(site: Site, regions: dict[str, tuple[str, ...]]) -> SiteLanguagesOut:
    found = region_languages.effective(site, regions)
    return SiteLanguagesOut.model_validate(
        {
            **SiteOut.model_validate(site).model_dump(),
            "effective_languages": list(found.languages),
            "languages_from": found.source,
        }
    )


@registry_router.get("/{site_id}/channel-list", response_model=ChannelListLink)
def channel_list_link(
    site_id: RowId, request: Request, caller: AdminDep, session: SessionDep
) -> ChannelListLink:
    """The link a site's box or VLC opens its channel list with, as it is (no header to send)."""
    site = registry.get_site(session, site_id, caller=caller)
    generation = site_link_generation(session, site.id)
    url = playlist.channel_list_url(str(request.base_url), request.app.state.signing_key, site.id, generation)
    return ChannelListLink(site_id=site.id, url=url)


# --- a region's languages -----------------------------------------------------------------------------

region_router = APIRouter(
    prefix="/api/v1/region-languages", tags=["sites"], responses=error_responses(400, 401, 403, 404, 422)
)


@region_router.get("", response_model=list[RegionLanguagesOut])
def list_region_languages(
    caller: AdminDep, region: ScopedRegion, session: SessionDep
) -> list[RegionLanguagesOut]:
    """A region (none: your scope) and the regions under it that have sites or set languages: each
    one's own languages, and what its sites that chose none hold (the nearest region's)."""
    return [
        RegionLanguagesOut(
            region=r.region,
            languages=list(r.languages),
            effective_languages=list(r.effective.languages),
            languages_from=r.effective.source,
        )
        for r in region_languages.regions_languages(session, region)
    ]


@region_router.put("", response_model=RegionLanguagesOut)
def set_region_languages(
    body: RegionLanguagesIn, caller: AdminDep, session: SessionDep
) -> RegionLanguagesOut:
    """Set the languages of a region inside your scope (none: your scope); its sites that chose none
    hold them, unless a nearer region set its own. [] clears them: its sites inherit from above."""
    place = region_languages.set_region_languages(
        session, actor=caller, region=body.region, languages=body.languages
    )
    regions = region_languages.region_map(session)
    found = region_languages.inherited(regions, place)
    return RegionLanguagesOut(
        region=place,
        languages=list(regions.get(place, ())),
        effective_languages=list(found.languages),
        languages_from=found.source,
    )


router = APIRouter()
router.include_router(registry_router)
router.include_router(region_router)
