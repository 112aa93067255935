"""Superseded outputs are retired, not deleted: a phone mid-film on the previous master keeps fetching
its segments. The commit that supersedes them records them here (in its own transaction, so a failed
commit retires nothing); delivery.retention deletes them after the grace."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mediasrv.db import utcnow
from mediasrv.ingest.models import RetiredObject
from mediasrv.storage import keys


def retire(session: Session, asset_id: str, prefixes: Iterable[str], *, now: datetime | None = None) -> None:
    """Record stored objects (keys, or folders ending in "/") that the caller's commit stops naming."""
    at = now or utcnow()
    for prefix in set(prefixes):
        row = session.get(RetiredObject, prefix)
        if row is None:
            session.add(RetiredObject(prefix=prefix, asset_id=asset_id, retired_at=at))
        else:
            row.retired_at = at  # named again meanwhile and superseded again: a new grace


def unretire(session: Session, prefixes: Iterable[str]) -> None:
    """Take objects named again (the same captions or dub file once more: the same keys) out of
    retirement, before they are uploaded anew where possible (see delivery.retention)."""
    wanted = sorted(set(prefixes))
    if wanted:
        session.execute(delete(RetiredObject).where(RetiredObject.prefix.in_(wanted)))


def retire_generation(session: Session, asset_id: str, generation: str | None) -> None:
    if generation:
        retire(session, asset_id, [keys.generation_prefix(asset_id, generation)])


def retained_generations(session: Session, asset_id: str) -> set[str]:
    """Generations of the asset retired and not yet collected: a publication's clean-up leaves them."""
    rows = session.scalars(select(RetiredObject.prefix).where(RetiredObject.asset_id == asset_id))
    prefix = keys.asset_prefix(asset_id)
    return {p.removeprefix(prefix).rstrip("/") for p in rows if p.startswith(prefix) and p.count("/") == 3}
