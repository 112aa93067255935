"""Who may play which asset: every HLS path (/hls, /s/<signature>/hls, the edge check) and the
playback links API ask `PlaybackScope` (whether a site's link is still its own after a revocation is
mediasrv.accounts.auth.SiteLinks' question).

- administrators play their scope's departments' assets (drafts too) and what is published inside or
  above their scope (a whole-network administrator: every asset);
- producers play their own department's assets (drafts too) and what is published inside or above
  their department's region;
- sites, and links signed for a site, play only what a programme published to their region or above
  it holds: its media and its handouts (exactly what their caching manifests can list). Another
  county's local film is not theirs.

Withdrawing a programme stops it everywhere within a second or two, old signed links included: the
published set is kept in memory per manifest epoch, which publishing, withdrawing and every catalog
change move (mediasrv.epochs), so a segment costs a set lookup and never a query. Sites' regions are
kept with it (moving a site moves the same epoch). An asset's department never changes, nor does a
department's region, so those lookups are kept without an epoch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.accounts.models import OrgUnit
from mediasrv.catalog.models import Attachment, Programme, ProgrammeStatus
from mediasrv.db import Database
from mediasrv.ingest.models import Asset
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import NotFound
from mediasrv.kit.regions import Scope, within
from mediasrv.sites.models import Site

_UNKNOWN = -1  # the department of an asset that does not exist


def published_assets(session: Session) -> dict[str, frozenset[str]]:
    """Every asset a published programme holds (its main media and its handouts), with the regions
    its programmes are published to."""
    main = select(Programme.asset_id, Programme.region).where(
        Programme.status == ProgrammeStatus.PUBLISHED, Programme.asset_id.is_not(None)
    )
    handouts = (
        select(Attachment.asset_id, Programme.region)
        .join(Programme, Programme.id == Attachment.programme_id)
        .where(Programme.status == ProgrammeStatus.PUBLISHED)
    )
    regions: dict[str, set[str]] = {}
    for asset_id, region in session.execute(main.union(handouts)):
        if asset_id is not None:
            regions.setdefault(asset_id, set()).add(region)
    return {asset_id: frozenset(r) for asset_id, r in regions.items()}


def refusal(asset_id: str) -> NotFound:
    """The one answer outside the scope: a 404 that does not tell whether the asset exists."""
    return NotFound("delivery.not_in_scope", asset_id=asset_id)


@dataclass(frozen=True)
class _Published:
    epoch: int
    assets: dict[str, frozenset[str]]  # asset -> the regions it is published to
    sites: dict[int, str]  # site -> its region at this epoch, filled as sites ask


def _seen(regions: frozenset[str] | None, standing: str, *, below: bool) -> bool:
    """Whether a caller standing at `standing` may play what is published to `regions`: a site what
    is published to its region or above (within), people also what is published inside their region."""
    if not regions:
        return False
    if below:
        return any(Scope(standing).sees(r) for r in regions)
    return any(within(standing, r) for r in regions)


class PlaybackScope:
    def __init__(self, db: Database, watch: epochs.EpochWatch, *, limit: int = 100_000) -> None:
        self._db = db
        self._watch = watch
        self._limit = limit
        self._published: _Published | None = None
        self._departments: dict[str, int] = {}  # asset -> its department (_UNKNOWN: no such asset)
        self._units: dict[int, str] = {}  # department -> its region
        self._lock = threading.Lock()

    def decide(self, caller: Caller, asset_id: str) -> bool | None:
        """Whether `caller` may play `asset_id`, from memory; None when only the database can tell
        (the epoch moved or is due a re-read, or a site, asset or department not looked up yet).
        Never queries."""
        if caller.role is Role.ADMIN and not caller.region:
            return True
        published = self._published
        if published is None or published.epoch != self._watch.peek(epochs.MANIFESTS):
            return None
        regions = published.assets.get(asset_id)
        if caller.role is Role.SITE:
            if regions is None or caller.site_id is None:
                return False
            site_region = published.sites.get(caller.site_id)
            return None if site_region is None else _seen(regions, site_region, below=False)
        standing = self._standing(caller, query=False)
        if standing is None:
            return None
        if _seen(regions, standing, below=True):
            return True
        department = self._departments.get(asset_id)
        if department is None:
            return None
        return self._owns(caller, department, query=False)

    def allows(self, caller: Caller, asset_id: str) -> bool:
        """The same question answered for certain, from the database when memory cannot. Blocking."""
        if caller.role is Role.ADMIN and not caller.region:
            return True
        published = self._current()
        regions = published.assets.get(asset_id)
        if caller.role is Role.SITE:
            if regions is None or caller.site_id is None:
                return False
            return _seen(regions, self._site_region(published, caller.site_id), below=False)
        standing = self._standing(caller, query=True)
        if standing is not None and _seen(regions, standing, below=True):
            return True
        return bool(self._owns(caller, self._department(asset_id), query=True))

    def _standing(self, caller: Caller, *, query: bool) -> str | None:
        """Where a person stands: an administrator's scope, a producer's department's region (None:
        not known without a query, or no department)."""
        if caller.role is Role.ADMIN:
            return caller.region
        if caller.org_unit_id is None:
            return None
        return self._unit_region(caller.org_unit_id, query=query)

    def _owns(self, caller: Caller, department: int, *, query: bool) -> bool | None:
        """Whether an asset of `department` is the caller's own: a producer's department's, or a
        department in an administrator's scope (None: not known without a query)."""
        if department == _UNKNOWN:
            return False
        if caller.role is Role.PRODUCER:
            return caller.org_unit_id is not None and department == caller.org_unit_id
        region = self._unit_region(department, query=query)
        return None if region is None else Scope(caller.region).covers(region)

    def _unit_region(self, unit: int, *, query: bool) -> str | None:
        region = self._units.get(unit)
        if region is None and query:
            with self._db.session_scope() as session:
                region = session.scalar(select(OrgUnit.region).where(OrgUnit.id == unit)) or ""
            if len(self._units) >= self._limit:
                self._units.clear()
            self._units[unit] = region
        return region

    def _site_region(self, published: _Published, site_id: int) -> str:
        region = published.sites.get(site_id)
        if region is None:
            with self._db.session_scope() as session:
                region = session.scalar(select(Site.region).where(Site.id == site_id))
            region = region if region is not None else "\x00"  # no such site: below no region
            if len(published.sites) < self._limit:
                published.sites[site_id] = region
        return region

    def _current(self) -> _Published:
        epoch = self._watch.get(epochs.MANIFESTS)  # before the query: a later change moves it on
        published = self._published
        if published is not None and published.epoch == epoch:
            return published
        with self._lock:  # one load at a time; the others find it done
            published = self._published
            if published is None or published.epoch != epoch:
                with self._db.session_scope() as session:
                    published = _Published(epoch, published_assets(session), {})
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
