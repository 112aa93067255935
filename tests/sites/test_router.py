"""Each site route is served by the folder of its domain: the registry by sites/, heartbeats and the
fleet views by fleet/, what a site plays and caches by delivery/ (the map README's architecture
section draws)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

SITES = {
    ("POST", "/api/v1/sites"),
    ("GET", "/api/v1/sites"),
    ("POST", "/api/v1/sites/import"),
    ("PATCH", "/api/v1/sites/{site_id}"),
    ("GET", "/api/v1/sites/{site_id}/channel-list"),
}
FLEET = {
    ("POST", "/api/v1/sites/{site_id}/heartbeat"),
    ("GET", "/api/v1/fleet"),
    ("GET", "/api/v1/fleet/sites"),
    ("GET", "/api/v1/fleet.csv"),
}
DELIVERY = {
    ("GET", "/api/v1/sites/{site_id}/playlist"),
    ("GET", "/api/v1/sites/{site_id}/playlist.m3u8"),
    ("GET", "/api/v1/sites/manifest-key"),
    ("GET", "/api/v1/sites/{site_id}/manifest"),
}


def test_site_routes_live_in_their_domain(app: FastAPI) -> None:
    served = {
        (method, ctx.path): ctx.original_route.endpoint.__module__
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.original_route, APIRoute)
        for method in ctx.methods or ()
    }
    assert {r: served.get(r) for r in SITES} == dict.fromkeys(SITES, "mediasrv.sites.router")
    assert {r: served.get(r) for r in FLEET} == dict.fromkeys(FLEET, "mediasrv.fleet.router")
    assert {r: served.get(r) for r in DELIVERY} == dict.fromkeys(DELIVERY, "mediasrv.delivery.router")
