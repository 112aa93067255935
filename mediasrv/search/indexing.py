"""Keeping the search index equal to the published catalog.

Only published programmes are indexed. Every catalog change enqueues `sync` for the programmes it
touched (the index queue runs one writer); `rebuild` starts from scratch (`mediasrv reindex`);
`drift` compares fingerprints so a diverged index is detectable; `refresh_required` runs daily,
because a programme's required flag also changes when a list's period starts or ends.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.captions.models import Caption
from mediasrv.captions.service import caption_cues
from mediasrv.catalog.models import Programme, ProgrammeStatus
from mediasrv.db import Database
from mediasrv.ingest.models import AssetKind
from mediasrv.protocol.china import today_in_china
from mediasrv.search.index import SearchDoc, SearchIndex
from mediasrv.study.lists import required_changing_on, required_programme_ids

_BATCH = 500


def search_doc(
    programme: Programme, *, required: bool, captions: tuple[tuple[float, str], ...] = ()
) -> SearchDoc:
    assert programme.published_at is not None  # only published programmes are indexed
    kind = programme.asset.kind if programme.asset is not None else AssetKind.PENDING
    return SearchDoc(
        id=programme.id,
        title=programme.title,
        description=programme.description,
        tags=tuple(programme.tags),
        category=programme.category_code,
        category_names=f"{programme.category.name_zh} {programme.category.name_en}",
        kind=kind.value,
        duration=programme.duration_seconds or 0.0,
        required=required,
        published_at=programme.published_at,
        attachment_text=" ".join(a.asset.title for a in programme.attachment_rows),
        region=programme.region,
        captions=captions,
    )


def published_docs(session: Session, *, on: date, ids: Collection[str] | None = None) -> Iterator[SearchDoc]:
    """SearchDocs of published programmes (of `ids`, when given), in batches to bound memory."""
    required = required_programme_ids(session, on=on)
    query = select(Programme).where(Programme.status == ProgrammeStatus.PUBLISHED).order_by(Programme.id)
    if ids is not None:
        query = query.where(Programme.id.in_(list(ids)))
    # Only films with captions cost a query (all caption text at once could be gigabytes).
    captioned = set(session.scalars(select(Caption.asset_id).distinct()))
    for programme in session.scalars(query.execution_options(yield_per=_BATCH)):
        said: tuple[tuple[float, str], ...] = ()
        if programme.asset_id in captioned:
            cues = caption_cues(session, programme.asset_id)
            said = tuple(sorted((cue.start, cue.text) for _, cue in cues))
        yield search_doc(programme, required=programme.id in required, captions=said)


def sync(db: Database, index: SearchIndex, ids: Collection[str], *, on: date | None = None) -> None:
    """Make the index agree with the database for these programmes (idempotent). An index an earlier
    version wrote (another schema) is rebuilt whole: its documents lack the new fields, and adding
    one with them would fail, so the first change after an upgrade brings it up to date."""
    if index.outdated():
        rebuild(db, index, on=on)
        return
    with db.session_scope() as session:
        docs = list(published_docs(session, on=on or today_in_china(), ids=ids))
    index.upsert(docs)
    index.delete(set(ids) - {d.id for d in docs})


def rebuild(db: Database, index: SearchIndex, *, on: date | None = None) -> int:
    with db.session_scope() as session:
        return index.rebuild(published_docs(session, on=on or today_in_china()))


@dataclass(frozen=True)
class Drift:
    database: tuple[int, str]
    index: tuple[int, str]

    @property
    def in_sync(self) -> bool:
        return self.database == self.index


def drift(session: Session, index: SearchIndex, *, on: date | None = None) -> Drift:
    expected = SearchIndex.doc_fingerprint(published_docs(session, on=on or today_in_china()))
    return Drift(database=expected, index=index.fingerprint())


def refresh_required(db: Database, index: SearchIndex, *, on: date) -> int:
    """Re-index the programmes of required lists that start today or ended yesterday."""
    with db.session_scope() as session:
        ids = required_changing_on(session, on=on)
    if ids:
        sync(db, index, ids, on=on)
    return len(ids)
