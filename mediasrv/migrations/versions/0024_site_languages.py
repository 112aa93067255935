"""sites choose their languages; mobile file lists no longer carry every language

Revision ID: 0024_site_languages
Revises: 0023_channel_replaced
Create Date: 2026-12-07

A site's languages (BCP 47 tags of media.languages; [] is the film's own sound and Chinese captions
only). The mobile master's file list now holds only that base, each other language travelling in a list
of its own (presentation "master-<lang>"), so a stored "master" list of an asset with language
renditions or non-Chinese captions holds too much: it is re-keyed out of the way ("master~all"), not
deleted, since a site's kept manifest may still name its digest; the next build makes the base list and
collect_file_lists drops the old one once no kept manifest names it.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0024_site_languages"
down_revision = "0023_channel_replaced"
branch_labels = None
depends_on = None

RETIRED = "master~all"


def _has_languages(subtitles: Any, audio_langs: set[str], asset_id: str) -> bool:
    if asset_id in audio_langs:
        return True
    tracks = json.loads(subtitles) if isinstance(subtitles, str) else subtitles or []
    return any(not str(t.get("language", "")).startswith("zh") for t in tracks)


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("languages", sa.JSON(), server_default="[]", nullable=False))
    bind = op.get_bind()
    dubbed = set(
        bind.execute(
            sa.text("SELECT DISTINCT asset_id FROM renditions WHERE name LIKE 'mobile-audio-%'")
        ).scalars()
    )
    rows = bind.execute(
        sa.text(
            "SELECT f.sha256, f.asset_id, a.subtitles FROM file_lists f JOIN assets a ON a.id = f.asset_id"
            " WHERE f.presentation = 'master'"
        )
    ).all()
    for sha, asset_id, subtitles in rows:
        if _has_languages(subtitles, dubbed, asset_id):
            bind.execute(
                sa.text("UPDATE file_lists SET presentation = :p WHERE sha256 = :s"), {"p": RETIRED, "s": sha}
            )


def downgrade() -> None:
    # Retired lists stay retired: a build makes what it needs again.
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("languages")
