"""What administrators do with faults: record one a person reported (a phone call), close it with a
note, list the open ones; a region's contacts and limits. Each within the caller's scope (outside it,
as if there were none: 404)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediasrv.audit.service import Action, record
from mediasrv.faults.models import (
    REPORTED,
    Contact,
    ContactKind,
    Delivery,
    Fault,
    FaultKind,
    FaultLimits,
    FaultReport,
)
from mediasrv.faults.notify import check_webhook, webhook_url
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import Conflict, Forbidden, MediaError, NotFound
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


# A site PC's clock may be wrong: a report's time counts as the fault's start only within this much
# before its arrival (the agent keeps reports at most KEEP_DAYS offline), never after it.
REPORT_PAST = timedelta(days=62)
SITE_FAULTS_DAYS = 31  # a heartbeat's answer tells the site of its faults closed this recently


@dataclass(frozen=True)
class SiteReport:
    client_id: str  # the site view form's id: delivered twice, kept once
    kind: FaultKind
    note: str
    reported_at: datetime  # the site PC's clock


def receive_site_report(
    session: Session, *, caller: Caller, site_id: int, report: SiteReport, now: datetime
) -> tuple[FaultRow, bool]:
    """A fault a site reported from its site view, delivered by its agent: it joins the site's open
    fault of that kind (its evidence counts the reports) or opens one. The same report delivered
    again changes nothing. Returns the fault and whether this delivery was the report's first."""
    site = get_site(session, site_id, caller=caller)  # 404 for no such site
    if caller.site_id != site.id:
        raise Forbidden("faults.own_site_only")
    if report.kind not in REPORTED:
        raise MediaError("faults.kind_not_reported", kinds=", ".join(sorted(k.value for k in REPORTED)))
    now = now.astimezone(UTC)
    if (seen := _report(session, site.id, report.client_id)) is not None:
        return _received_again(session, seen, report, caller)
    reported_at = report.reported_at.astimezone(UTC)
    since = min(max(reported_at, now - REPORT_PAST), now)
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                fault, created = _open_for_report(session, site.id, report, since, caller)
                session.add(
                    FaultReport(
                        site_id=site.id, client_id=report.client_id, fault_id=fault.id, kind=report.kind,
                        note=report.note, reported_at=reported_at, received_at=now,
                    )
                )  # fmt: skip
                session.flush()
            break
        except IntegrityError:
            # The same report delivered twice at once, or another report opened the fault meanwhile:
            # the first is answered as a resend, the second joins that fault on the next attempt.
            if (seen := _report(session, site.id, report.client_id)) is not None:
                return _received_again(session, seen, report, caller)
            if attempt == 2:
                raise
    # From all its reports, whatever order they arrived in (a PC offline for days sends late).
    count, first, last = session.execute(
        select(func.count(), func.min(FaultReport.reported_at), func.max(FaultReport.reported_at)).where(
            FaultReport.fault_id == fault.id
        )
    ).one()
    fault.last_seen_at = max(fault.last_seen_at.astimezone(UTC), now)
    # A new dict: the JSON column notices an assignment, not a change inside it.
    fault.evidence = {
        "source": "site",
        "reports": count,
        "first_reported_at": _iso(first),
        "last_reported_at": _iso(last),
        "last_received_at": now.isoformat(),
    }
    if not created and report.note and report.note not in fault.note:
        fault.note = f"{fault.note}\n{report.note}".strip()
    record(session, caller, Action.FAULT_REPORT, "fault", fault.id, in_region=site.region,
           site_id=site.id, kind=report.kind.value, note=report.note, client_id=report.client_id,
           again=not created)  # fmt: skip
    return FaultRow(fault, site.code, site.name, site.region), True


def _iso(value: datetime | str) -> str:
    """An aggregate's time as ISO 8601 in UTC (SQLite hands min/max back as text)."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def report_received(session: Session, site_id: int, client_id: str) -> datetime:
    """When the centre first received a site's report."""
    seen = _report(session, site_id, client_id)
    assert seen is not None, "received before"
    return seen.received_at


def _report(session: Session, site_id: int, client_id: str) -> FaultReport | None:
    return session.scalar(
        select(FaultReport).where(FaultReport.site_id == site_id, FaultReport.client_id == client_id)
    )


def _received_again(
    session: Session, seen: FaultReport, report: SiteReport, caller: Caller
) -> tuple[FaultRow, bool]:
    if seen.kind != report.kind:  # another form's id: never mixed
        raise Conflict("faults.report_id_taken")
    return get_fault(session, seen.fault_id, caller=caller), False


def _open_for_report(
    session: Session, site_id: int, report: SiteReport, since: datetime, caller: Caller
) -> tuple[Fault, bool]:
    """The site's open fault of the report's kind, or a new one from `since`."""
    if (fault := _open(session, site_id, report.kind)) is not None:
        return fault, False
    fault = Fault(
        site_id=site_id, kind=report.kind, opened_at=since, last_seen_at=since, note=report.note,
        reported_by=caller.name, evidence={},
    )  # fmt: skip
    session.add(fault)
    session.flush()
    return fault, True


def site_faults(session: Session, site_id: int, *, now: datetime) -> list[Fault]:
    """What a site is told of its reported faults (a heartbeat's answer): open ones, and those closed
    in the last SITE_FAULTS_DAYS with the closing note, newest first."""
    recent = now.astimezone(UTC) - timedelta(days=SITE_FAULTS_DAYS)
    return list(
        session.scalars(
            select(Fault)
            .where(
                Fault.site_id == site_id,
                Fault.kind.in_(REPORTED),
                or_(Fault.closed_at.is_(None), Fault.closed_at >= recent),
            )
            .order_by(Fault.opened_at.desc(), Fault.id.desc())
            .limit(50)
        )
    )


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
    session: Session,
    *,
    actor: Caller,
    region: str,
    email: str | None,
    webhook: str | None,
    name: str = "",
    internal_ok: bool = False,
) -> Contact:
    """`internal_ok`: a webhook may name a loopback, private or link-local host
    (MEDIASRV_FAULT_WEBHOOK_INTERNAL); it is checked again when each notice is sent."""
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
        check_webhook(target, internal_ok=internal_ok)  # and what would reach inside the centre
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
