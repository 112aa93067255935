"""Terminal sites: registry (grows with the sites issue)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.accounts.models import Caller
from mediasrv.audit.service import Action, record
from mediasrv.delivery.models import Site
from mediasrv.errors import Conflict, MediaError, NotFound

_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def normalise_region(region: str) -> str:
    """'省/市/县/乡/村' with surrounding spaces and empty parts removed."""
    return "/".join(part.strip() for part in region.split("/") if part.strip())


def create_site(session: Session, *, actor: Caller, code: str, name: str, region: str) -> Site:
    if not _CODE.match(code):
        raise MediaError("A site code is 1-64 letters, digits or . _ - (for example 'hb-xt-0012').")
    if session.scalar(select(Site).where(Site.code == code)) is not None:
        raise Conflict(f"A site with code '{code}' already exists.")
    site = Site(code=code, name=name.strip() or code, region=normalise_region(region))
    session.add(site)
    session.flush()
    record(session, actor, Action.SITE_CREATE, "site", site.id, code=code, name=site.name, region=site.region)
    return site


def site_by_code(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        raise NotFound(f"No site with code '{code}'.")
    return site


def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.code)))
