"""Who may play which asset: every HLS path (/hls, /s/<signature>/hls, the edge check) and the
playback links API ask `PlaybackScope`, and a site's channel-list key is checked against
`SiteLinks`.

- administrators play every asset;
- producers play their own department's assets (drafts too) and whatever is published;
- sites, and links signed for a site, play only what a published programme holds: its media and its
  handouts (exactly what their caching manifests can list).

Withdrawing a programme stops it everywhere within a second or two, old signed links included: the
published set is kept in memory per manifest epoch, which publishing, withdrawing and every catalog
change move (mediasrv.epochs), so a segment costs a set lookup and never a query. An asset's
department never changes, so producers' lookups are kept without an epoch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.accounts.models import ApiToken
from mediasrv.catalog.models import Attachment, Programme, ProgrammeStatus
from mediasrv.db import Database
from mediasrv.ingest.models import Asset
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import NotFound

_UNKNOWN = -1  # the department of an asset that does not exist


def published_assets(session: Session) -> set[str]:
    """Every asset a published programme holds: its main media and its handouts."""
    main = select(Programme.asset_id).where(
        Programme.status == ProgrammeStatus.PUBLISHED, Programme.asset_id.is_not(None)
    )
    handouts = (
        select(Attachment.asset_id)
        .join(Programme, Programme.id == Attachment.programme_id)
        .where(Programme.status == ProgrammeStatus.PUBLISHED)
    )
    return {asset_id for asset_id in session.scalars(main.union(handouts)) if asset_id is not None}


def refusal(asset_id: str) -> NotFound:
    """The one answer outside the scope: a 404 that does not tell whether the asset exists."""
    return NotFound("delivery.not_in_scope", asset_id=asset_id)


@dataclass(frozen=True)
class _Published:
    epoch: int
    assets: frozenset[str]


class PlaybackScope:
    def __init__(self, db: Database, watch: epochs.EpochWatch, *, limit: int = 100_000) -> None:
        self._db = db
        self._watch = watch
        self._limit = limit
        self._published: _Published | None = None
        self._departments: dict[str, int] = {}  # asset -> its department (_UNKNOWN: no such asset)
        self._lock = threading.Lock()

    def decide(self, caller: Caller, asset_id: str) -> bool | None:
        """Whether `caller` may play `asset_id`, from memory; None when only the database can tell
        (the epoch moved or is due a re-read, or a producer's asset not looked up yet). Never queries."""
        if caller.role is Role.ADMIN:
            return True
        published = self._published
        if published is None or published.epoch != self._watch.peek(epochs.MANIFESTS):
            return None
        if asset_id in published.assets:
            return True
        if caller.role is not Role.PRODUCER or caller.org_unit_id is None:
            return False
        department = self._departments.get(asset_id)
        return None if department is None else department == caller.org_unit_id

    def allows(self, caller: Caller, asset_id: str) -> bool:
        """The same question answered for certain, from the database when memory cannot. Blocking."""
        if caller.role is Role.ADMIN:
            return True
        if asset_id in self._current().assets:
            return True
        if caller.role is not Role.PRODUCER or caller.org_unit_id is None:
            return False
        return self._department(asset_id) == caller.org_unit_id

    def _current(self) -> _Published:
        epoch = self._watch.get(epochs.MANIFESTS)  # before the query: a later change moves it on
        published = self._published
        if published is not None and published.epoch == epoch:
            return published
        with self._lock:  # one load at a time; the others find it done
            published = self._published
            if published is None or published.epoch != epoch:
                with self._db.session_scope() as session:
                    published = _Published(epoch, frozenset(published_assets(session)))
                self._published = published
            return published

    def _department(self, asset_id: str) -> int:
        department = self._departments.get(asset_id)
        if department is None:
            with self._db.session_scope() as session:
                found = session.execute(select(Asset.org_unit_id).where(Asset.id == asset_id)).first()
            department = _UNKNOWN if found is None or found[0] is None else found[0]
            if len(self._departments) >= self._limit:
                self._departments.clear()
            self._departments[asset_id] = department
        return department


# --- channel-list links -----------------------------------------------------------------------


def site_link_generation(session: Session, site_id: int) -> int:
    """The generation a site's channel-list key is made with: how many of its tokens were revoked.
    Revoking any of them retires the link (a box's token and its channel list go together), and no
    other state is needed."""
    count = select(func.count()).where(ApiToken.site_id == site_id, ApiToken.revoked_at.is_not(None))
    return session.scalar(count) or 0


class SiteLinks:
    """Sites' key generations, kept while the accounts epoch (which every revocation moves) stands
    still, so that a channel-list fetch costs no query."""

    def __init__(self, db: Database, watch: epochs.EpochWatch, *, limit: int = 100_000) -> None:
        self._db = db
        self._watch = watch
        self._limit = limit
        self._entries: dict[int, tuple[int, int]] = {}  # site -> (accounts epoch, generation)

    def peek(self, site_id: int) -> int | None:
        """The site's generation when memory knows it is current; never queries."""
        entry = self._entries.get(site_id)
        if entry is None or entry[0] != self._watch.peek(epochs.ACCOUNTS):
            return None
        return entry[1]

    def generation(self, site_id: int) -> int:
        """The site's generation, from the database when memory cannot tell. Blocking."""
        epoch = self._watch.get(epochs.ACCOUNTS)  # before the query: a later revocation moves it on
        entry = self._entries.get(site_id)
        if entry is not None and entry[0] == epoch:
            return entry[1]
        with self._db.session_scope() as session:
            generation = site_link_generation(session, site_id)
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[site_id] = (epoch, generation)
        return generation
