"""Request-scoped dependencies: the app's settings, object store and a database session per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.jobs import Dispatcher
from mediasrv.kit.i18n import Lang, choose_lang
from mediasrv.search.index import SearchIndex
from mediasrv.storage import ObjectStore


def get_session(request: Request) -> Iterator[Session]:
    """Commit when the handler succeeds, roll back when it raises."""
    db: Database = request.app.state.db
    with db.session_scope() as session:
        yield session


def get_db(request: Request) -> Database:
    """The database itself, for a route that commits steps of its own as it goes (ingest.tus)."""
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.store
    return store


def get_search(request: Request) -> SearchIndex:
    index: SearchIndex = request.app.state.search
    return index


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def get_lang(request: Request) -> Lang:
    """The language the caller reads (kit.i18n.choose_lang), for what a route renders itself."""
    return choose_lang(request.headers, request.cookies, request.query_params)


# scope="function": commit before the response is sent, so a 201 means the row is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ObjectStore, Depends(get_store)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
SearchDep = Annotated[SearchIndex, Depends(get_search)]
LangDep = Annotated[Lang, Depends(get_lang)]
