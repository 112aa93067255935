"""Alembic's entry point: migrate on the engine `mediasrv.migrations.config` handed over."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Engine

from mediasrv.db import Base, UTCDateTime
from mediasrv.migrations import import_models, made_on


def render_item(kind: str, obj: Any, _ctx: AutogenContext) -> str | Literal[False]:
    # Scripts spell the stored type, not our Python-side wrapper: a script must not change when
    # the wrapper does.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


import_models()
engine = context.config.attributes.get("engine")
assert isinstance(engine, Engine), "run migrations through mediasrv.migrations (mediasrv db upgrade)"

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode copies the table, so one script fits both.
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
        include_object=made_on(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
