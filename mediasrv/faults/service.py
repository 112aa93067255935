"""What administrators do with faults: record one a person reported (a phone call), close it with a
note, list the open ones; a region's contacts and limits. Each within the caller's scope (outside it,
as if there were none: 404)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediasrv.audit.service import Action, record
from mediasrv.faults.models import REPORTED, Contact, ContactKind, Delivery, Fault, FaultKind, FaultLimits
from mediasrv.faults.notify import webhook_url
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import Conflict, MediaError, NotFound
from mediasrv.kit.regions import Scope, under
from mediasrv.sites.models import Site
from mediasrv.sites.registry import get_site

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class FaultRow:
    fault: Fault
    site_code: str
    site_name: str
    region: str


def report_fault(
    session: Session, *, actor: Caller, site_id: int, kind: FaultKind, note: str, now: datetime
) -> tuple[Fault, bool]:
    """Record a fault a person reported; one already open of that kind at that site takes the note
    instead (a second call about the same broken TV). Returns the fault and whether it is new."""
    if kind not in REPORTED:
        raise MediaError("faults.kind_not_reported", kinds=", ".join(sorted(k.value for k in REPORTED)))
    site = get_site(session, site_id, caller=actor)
    now = now.astimezone(UTC)
    who = actor.name
    existing = _open(session, site.id, kind)
    if existing is None:
        try:
            with session.begin_nested():
                existing = Fault(
                    site_id=site.id, kind=kind, opened_at=now, last_seen_at=now, note=note, reported_by=who
                )
                session.add(existing)
                session.flush()
        except IntegrityError:  # reported at the same moment by someone else: one fault, both notes
            existing = _open(session, site.id, kind)
            assert existing is not None
        else:
            record(session, actor, Action.FAULT_REPORT, "fault", existing.id, in_region=site.region,
                   site_id=site.id, kind=kind.value, note=note)  # fmt: skip
            return existing, True
    existing.last_seen_at = now
    if note and note not in existing.note:
        existing.note = f"{existing.note}\n{note}".strip()
    record(session, actor, Action.FAULT_REPORT, "fault", existing.id, in_region=site.region,
           site_id=site.id, kind=kind.value, note=note, again=True)  # fmt: skip
    return existing, False


def _open(session: Session, site_id: int, kind: FaultKind) -> Fault | None:
    return session.scalar(
        select(Fault).where(Fault.site_id == site_id, Fault.kind == kind, Fault.closed_at.is_(None))
    )


def get_fault(session: Session, fault_id: int, *, caller: Caller) -> FaultRow:
    row = session.execute(
        select(Fault, Site.code, Site.name, Site.region)
        .join(Site, Site.id == Fault.site_id)
        .where(Fault.id == fault_id)
    ).first()
    if row is None or not Scope.of(caller).covers(row[3]):
        raise NotFound("faults.no_fault", fault_id=fault_id)
    return FaultRow(*row)


def close_fault(session: Session, *, actor: Caller, fault_id: int, note: str, now: datetime) -> FaultRow:
    """A person closes a reported fault, saying what was done; detected ones close by themselves."""
    row = get_fault(session, fault_id, caller=actor)
    fault = row.fault
    if fault.closed_at is not None:
        raise Conflict("faults.already_closed")
    if fault.kind not in REPORTED:
        raise Conflict("faults.closes_itself")
    now = now.astimezone(UTC)
    fault.closed_at = now
    fault.repair_seconds = max(int((now - fault.opened_at.astimezone(UTC)).total_seconds()), 0)
    fault.closed_note = note
    fault.closed_by = actor.name
    record(session, actor, Action.FAULT_CLOSE, "fault", fault.id, in_region=row.region,
           site_id=fault.site_id, kind=fault.kind.value, note=note)  # fmt: skip
    return row


def list_faults(
    session: Session,
    *,
    region: str,
    site_id: int | None = None,
    kind: FaultKind | None = None,
    open_only: bool = True,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[FaultRow], int]:
    """Faults of the sites under `region` (already narrowed to the caller's scope), by region, site and
    kind; open ones only unless asked."""
    where: list[ColumnElement[bool]] = [under(Site.region, region)]
    if site_id is not None:
        where.append(Fault.site_id == site_id)
    if kind is not None:
        where.append(Fault.kind == kind)
    if open_only:
        where.append(Fault.closed_at.is_(None))
    base = select(Fault, Site.code, Site.name, Site.region).join(Site, Site.id == Fault.site_id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        base.order_by(Site.region, Site.code, Fault.opened_at.desc(), Fault.id).limit(limit).offset(offset)
    )
    return [FaultRow(*r) for r in rows], total


# --- contacts and limits ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactRow:
    contact: Contact
    pending: int  # deliveries not yet out
    last_error: str  # of the latest failed attempt among them


def add_contact(
    session: Session, *, actor: Caller, region: str, email: str | None, webhook: str | None, name: str = ""
) -> Contact:
    if (email is None) == (webhook is None):
        raise MediaError("faults.contact_one_target")
    if email is not None:
        email = email.strip()
        if not _EMAIL.match(email):
            raise MediaError("faults.email_invalid", email=email)
        kind, target = ContactKind.EMAIL, email
    else:
        assert webhook is not None
        target = webhook.strip()
        webhook_url(target)  # refuses what cannot be delivered to
        kind = ContactKind.WEBHOOK
    contact = Contact(region=Scope.of(actor).admit(region), kind=kind, target=target, name=name.strip())
    session.add(contact)
    session.flush()
    record(session, actor, Action.CONTACT_ADD, "fault_contact", contact.id, in_region=contact.region,
           region=contact.region, kind=kind.value, target=target, name=contact.name)  # fmt: skip
    return contact


def _contact(session: Session, contact_id: int, caller: Caller) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or not Scope.of(caller).covers(contact.region):
        raise NotFound("faults.no_contact", contact_id=contact_id)
    return contact


def remove_contact(session: Session, *, actor: Caller, contact_id: int) -> None:
    contact = _contact(session, contact_id, actor)
    record(session, actor, Action.CONTACT_REMOVE, "fault_contact", contact.id, in_region=contact.region,
           region=contact.region, target=contact.target)  # fmt: skip
    session.delete(contact)
    session.flush()


def list_contacts(session: Session, *, region: str) -> list[ContactRow]:
    """Contacts of the regions under `region`, each with its deliveries still pending."""
    contacts = list(
        session.scalars(
            select(Contact).where(under(Contact.region, region)).order_by(Contact.region, Contact.id)
        )
    )
    pending: dict[int, tuple[int, str]] = {}
    if contacts:
        rows = session.execute(
            select(Delivery.contact_id, Delivery.last_error)
            .where(Delivery.sent_at.is_(None), Delivery.contact_id.in_([c.id for c in contacts]))
            .order_by(Delivery.id)
        )
        for cid, error in rows:
            assert cid is not None  # the query asks for these contacts' deliveries
            count, last = pending.get(cid, (0, ""))
            pending[cid] = (count + 1, error or last)
    return [ContactRow(c, *pending.get(c.id, (0, ""))) for c in contacts]


def set_limits(
    session: Session, *, actor: Caller, region: str, silent_hours: int | None, escalate_hours: int | None
) -> FaultLimits:
    """A region's limits (None: the region above decides, or the default)."""
    if silent_hours is None and escalate_hours is None:
        raise MediaError("faults.limits_empty")
    where = Scope.of(actor).admit(region)
    row = session.get(FaultLimits, where) or FaultLimits(region=where)
    row.silent_hours, row.escalate_hours = silent_hours, escalate_hours
    session.add(row)
    session.flush()
    record(session, actor, Action.FAULT_LIMITS, "fault_limits", where, in_region=where,
           silent_hours=silent_hours, escalate_hours=escalate_hours)  # fmt: skip
    return row


def list_limits(session: Session, *, region: str) -> list[FaultLimits]:
    return list(
        session.scalars(
            select(FaultLimits).where(under(FaultLimits.region, region)).order_by(FaultLimits.region)
        )
    )
