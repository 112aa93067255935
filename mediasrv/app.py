"""The FastAPI application: create_app(settings) wires database, object store, dispatcher and routers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from mediasrv import __version__
from mediasrv.auth import public
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.delivery.router import router as hls_router
from mediasrv.errors import MediaError, StorageUnavailable
from mediasrv.ingest.router import router as assets_router
from mediasrv.jobs import CeleryDispatcher, Dispatcher
from mediasrv.storage import open_store

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, dispatcher: Dispatcher | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        db.create_all()
        store = open_store(settings.resolved_storage_url)
        try:
            store.check()
        except StorageUnavailable as exc:  # keep serving what the database knows; uploads get 503
            log.warning("object storage not reachable at start-up: %s", exc.message)
        app.state.settings = settings
        app.state.db = db
        app.state.store = store
        app.state.dispatcher = dispatcher or CeleryDispatcher(settings.resolved_broker_url)
        yield
        db.dispose()

    app = FastAPI(title="mediasrv", version=__version__, lifespan=lifespan)

    @app.exception_handler(MediaError)
    async def media_error(_request: Request, exc: MediaError) -> JSONResponse:
        headers = {"Retry-After": "30"} if isinstance(exc, StorageUnavailable) else None
        return JSONResponse(
            {"error": exc.code, "message": exc.message}, status_code=exc.status_code, headers=headers
        )

    @app.get("/healthz", dependencies=[Depends(public)], tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    app.include_router(assets_router)
    app.include_router(hls_router)
    return app
