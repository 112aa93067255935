"""The FastAPI application: create_app(settings) wires database, object store, dispatcher and routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException

from mediasrv import __version__, admission, epochs, migrations
from mediasrv.accounts.auth import CallerCache, Role, SiteLinks, allow, public
from mediasrv.accounts.router import auth_router
from mediasrv.accounts.router import router as accounts_router
from mediasrv.accounts.signing import signing_key
from mediasrv.audit.router import router as audit_router
from mediasrv.captions.router import router as captions_router
from mediasrv.catalog.router import router as catalog_router
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.delivery.edge import router as edge_router
from mediasrv.delivery.manifest.store import LRU, ManifestService
from mediasrv.delivery.polls import ManifestPolls
from mediasrv.delivery.router import file_lists, hls, playback_router, signed_hls, site_delivery
from mediasrv.delivery.scope import PlaybackScope
from mediasrv.faults.router import router as faults_router
from mediasrv.fleet.router import router as fleet_router
from mediasrv.ingest.router import router as assets_router
from mediasrv.ingest.tus import router as uploads_router
from mediasrv.jobs import CeleryDispatcher, Dispatcher
from mediasrv.kit.errors import (
    MediaError,
    StorageUnavailable,
    error_responses,
    invalid_request_body,
    refusal_body,
)
from mediasrv.kit.http import Rendered
from mediasrv.kit.i18n import Lang, choose_lang
from mediasrv.ops.broker import Broker
from mediasrv.ops.readiness import ReadinessCache, ReadyOut, check_readiness
from mediasrv.ops.requests import RequestMiddleware
from mediasrv.ops.scrape import ScrapeCollector
from mediasrv.schedule.router import router as schedule_router
from mediasrv.search.index import SearchIndex
from mediasrv.search.router import router as search_router
from mediasrv.sites.router import router as sites_router
from mediasrv.storage import open_store
from mediasrv.study.evidence import CentralCounter
from mediasrv.study.routers.assessment import router as assessment_router
from mediasrv.study.routers.compliance import router as compliance_router
from mediasrv.study.routers.evidence import router as evidence_router
from mediasrv.study.routers.feedback import router as feedback_router
from mediasrv.study.routers.lists import router as study_lists_router
from mediasrv.study.routers.sessions import router as sessions_router
from mediasrv.web import router as web

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, dispatcher: Dispatcher | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        migrations.check(db)  # refuse to serve a schema this code was not written for
        store = open_store(settings.resolved_storage_url)
        try:
            store.check()
        except StorageUnavailable as exc:  # keep serving what the database knows; uploads get 503
            log.warning("object storage not reachable at start-up: %s", exc.message)
        app.state.settings = settings
        app.state.db = db
        app.state.store = store
        app.state.dispatcher = dispatcher or CeleryDispatcher(settings.resolved_broker_url)
        app.state.signing_key = signing_key(settings, db)
        app.state.epochs = epochs.EpochWatch(db)
        app.state.callers = CallerCache(app.state.epochs)
        app.state.playback_scope = PlaybackScope(db, app.state.epochs)  # who may play which asset
        app.state.site_links = SiteLinks(db, app.state.epochs)  # sites' link generations (revocations)
        app.state.manifests = ManifestService(db, app.state.signing_key, app.state.epochs)
        app.state.channel_lists = LRU[tuple[Any, ...], Rendered](5_000)  # compressed M3U8 per site
        app.state.search = SearchIndex(settings.index_dir)
        app.state.search.ensure()
        broker = Broker(settings.resolved_broker_url)
        app.state.readiness = ReadinessCache(lambda: check_readiness(db, store, broker))
        # Per app, not in the global registry: each app (and test) scrapes its own database.
        app.state.metrics = CollectorRegistry(auto_describe=False)
        app.state.metrics.register(ScrapeCollector(db, broker, settings))
        # Segments served to sites' players, written in batches (mediasrv.study.evidence).
        app.state.viewing = CentralCounter(db, store)
        app.state.viewing.start()
        yield
        app.state.viewing.stop()  # writes what waits
        broker.close()
        db.dispose()

    app = FastAPI(title="mediasrv", version=__version__, lifespan=lifespan)
    app.add_middleware(ManifestPolls)  # inside RequestMiddleware: its answers are logged and counted
    # Before any body is read: credentials, size caps; and the security headers of every answer.
    app.add_middleware(admission.Admission)
    app.add_middleware(RequestMiddleware)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = admission.document(FastAPI.openapi(app), app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(MediaError)
    async def media_error(request: Request, exc: MediaError) -> JSONResponse:
        return JSONResponse(exc.body(_lang(request)), status_code=exc.status_code, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(invalid_request_body(exc.errors(), _lang(request)), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own refusals (no such route, method not allowed) in the same shape as ours.
        error, key, params = _starlette_refusal(request, exc)
        return JSONResponse(
            refusal_body(error, key, params, _lang(request)), status_code=exc.status_code, headers=exc.headers
        )

    @app.get("/healthz", dependencies=[Depends(public)], tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get(
        "/readyz",
        dependencies=[Depends(public)],
        tags=["ops"],
        response_model=ReadyOut,
        responses={503: {"model": ReadyOut, "description": "Not ready: `checks` says what is down"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: database, object storage and broker, each "ok" or what is wrong with it."""
        result = await run_in_threadpool(request.app.state.readiness.get)
        body = {"status": "ready" if result.ready else "not_ready", "checks": result.checks}
        return JSONResponse(body, status_code=200 if result.ready else 503)

    # Admins by default; MEDIASRV_METRICS_PUBLIC=true for a scraper on a private network.
    metrics_access = public if settings.metrics_public else allow(Role.ADMIN)

    @app.get(
        "/metrics",
        dependencies=[Depends(metrics_access)],
        tags=["ops"],
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
            **({} if settings.metrics_public else error_responses(401, 403)),
        },
    )
    def metrics(request: Request) -> Response:
        """Prometheus metrics: requests, uploads, manifest polls, assets and transcode durations, queue
        depths, site reachability."""
        body = generate_latest(REGISTRY) + generate_latest(request.app.state.metrics)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    routers = (
        auth_router,
        accounts_router,
        audit_router,
        assets_router,
        playback_router,
        uploads_router,
        catalog_router,
        captions_router,
        study_lists_router,
        search_router,
        site_delivery,
        file_lists,
        sites_router,
        fleet_router,
        faults_router,
        schedule_router,
        sessions_router,
        compliance_router,
        evidence_router,
        feedback_router,
        assessment_router,
        hls,
        signed_hls,
    )
    for router in routers:
        app.include_router(router)
    app.include_router(edge_router)
    web.install(app)
    return app


def _lang(request: Request) -> Lang:
    return choose_lang(request.headers, request.cookies, request.query_params)


def _starlette_refusal(request: Request, exc: HTTPException) -> tuple[str, str, dict[str, Any]]:
    """The error code, message key and parameters of a refusal Starlette makes."""
    if exc.status_code == 404:
        return "not_found", "kit.no_such_endpoint", {}
    if exc.status_code == 405 and exc.detail == "Method Not Allowed":  # Starlette's own, no route's
        return "method_not_allowed", "kit.method_not_allowed", {"method": request.method}
    if exc.status_code == 405:  # a route's own 405 (tus): its detail as it is, until it is a key
        return "method_not_allowed", str(exc.detail), {}
    if exc.status_code == 400:  # the body cannot be parsed (a broken multipart form)
        return "bad_request", "kit.bad_body", {"detail": str(exc.detail)}
    return "http_error", "kit.http_error", {"status": exc.status_code, "detail": str(exc.detail)}
