"""Telling people. New faults go to the contacts of the nearest region above each site that has
contacts, as ONE digest per region per MEDIASRV_FAULT_DIGEST_INTERVAL_SECONDS (the beat runs this every
minute; a region told within the interval waits), never a message per site. A fault open past its
region's limit goes once to the next region up that has contacts. Notices are written first and
delivered after, one delivery per contact: a delivery that fails stays pending with its error and is
tried again later (backing off), never dropped.

A fault whose site has no region with contacts above it waits, un-notified, until someone is added."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.config import Settings
from mediasrv.faults.limits import Limits
from mediasrv.faults.models import Contact, ContactKind, Delivery, Fault, Notice, NoticeKind
from mediasrv.faults.texts import beijing, region_name, what
from mediasrv.kit import i18n
from mediasrv.kit.errors import MediaError
from mediasrv.kit.regions import within
from mediasrv.sites.models import Site

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
FIRST_BACKOFF = timedelta(minutes=1)


class DeliveryFailed(Exception):
    """A notice could not be delivered to one contact; the text is kept on the delivery."""


class Sender(Protocol):
    def __call__(self, kind: ContactKind, target: str, title: str, body: str) -> None: ...


# --- where a fault goes -------------------------------------------------------------------------------


def _depth(region: str) -> int:
    return len(region.split("/")) if region else 0


def responsible(region: str, contact_regions: Iterable[str]) -> str | None:
    """The deepest region holding `region` that has contacts (None: no one to tell)."""
    best: str | None = None
    for where in contact_regions:
        if within(region, where) and (best is None or _depth(where) > _depth(best)):
            best = where
    return best


def above(region: str, contact_regions: Iterable[str]) -> str | None:
    """The next region up from `region` that has contacts (None: none above it)."""
    return responsible(region, (r for r in contact_regions if r != region and within(region, r)))


# --- writing notices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    fault: Fault
    code: str
    name: str
    region: str


def _rows(session: Session, *where: object) -> list[_Row]:
    query = (
        select(Fault, Site.code, Site.name, Site.region)
        .join(Site, Site.id == Fault.site_id)
        .where(Fault.closed_at.is_(None), *where)  # type: ignore[arg-type]
        .order_by(Site.region, Site.code, Fault.kind)
    )
    return [_Row(f, code, name, region) for f, code, name, region in session.execute(query)]


def _notice(
    session: Session, *, region: str, kind: NoticeKind, title: str, lines: list[str], intro: str,
    faults: list[Fault], contacts: list[Contact], now: datetime,
) -> Notice:  # fmt: skip
    notice = Notice(
        region=region, kind=kind, title=title, body="\n".join([intro, *lines]),
        fault_ids=[f.id for f in faults], created_at=now,
    )  # fmt: skip
    session.add(notice)
    session.flush()
    for c in contacts:
        session.add(
            Delivery(notice_id=notice.id, contact_id=c.id, kind=c.kind, target=c.target, next_attempt_at=now)
        )
    return notice


def _line(key: str, i: int, r: _Row, **more: object) -> str:
    """One fault as a line of a notice, in Chinese: site, code, region, what is wrong, since when."""
    what_ = what(r.fault.kind, r.fault.evidence, r.fault.note)
    params = {"i": i, "site": r.name, "code": r.code, "region": r.region, "what": what_}
    return i18n.render(key, "zh", params | {"since": beijing(r.fault.opened_at), **more})


def make_notices(session: Session, *, now: datetime, settings: Settings) -> list[Notice]:
    """The digests of new faults and the escalations due, one notice per region each."""
    now = now.astimezone(UTC)
    contacts: dict[str, list[Contact]] = defaultdict(list)
    for c in session.scalars(select(Contact).order_by(Contact.id)):
        contacts[c.region].append(c)
    if not contacts:
        return []
    notices: list[Notice] = []
    at = beijing(now)
    # Digests: open faults never notified, by the region whose contacts answer for them.
    fresh: dict[str, list[_Row]] = defaultdict(list)
    # A region told within the interval waits for the next: one digest per region per interval.
    recent = set(
        session.scalars(
            select(Notice.region).where(
                Notice.kind == NoticeKind.DIGEST,
                Notice.created_at > now - timedelta(seconds=settings.fault_digest_interval_seconds),
            )
        )
    )
    for row in _rows(session, Fault.notified_at.is_(None)):
        to = responsible(row.region, contacts)
        if to is not None and to not in recent:
            fresh[to].append(row)
    for to, rows in sorted(fresh.items()):
        lines = [_line("faults.line", i, r) for i, r in enumerate(rows, start=1)]
        place = region_name(to)
        notices.append(
            _notice(
                session,
                region=to,
                kind=NoticeKind.DIGEST,
                title=i18n.render("faults.digest_title", "zh", {"region": place, "n": len(rows)}),
                intro=i18n.render("faults.digest_intro", "zh", {"region": place, "at": at}),
                lines=lines,
                faults=[r.fault for r in rows],
                contacts=contacts[to],
                now=now,
            )
        )
        for r in rows:
            r.fault.notified_at = now
    # Escalations: notified faults open past their region's limit, once, to the next region up.
    limits = Limits.load(
        session, default_silent=settings.fault_silent_hours, default_escalate=settings.fault_escalate_hours
    )
    due: dict[tuple[str, str], list[tuple[_Row, int]]] = defaultdict(list)
    for row in _rows(session, Fault.notified_at.is_not(None), Fault.escalated_at.is_(None)):
        limit = limits.escalate_for(row.region)
        if row.fault.opened_at.astimezone(UTC) > now - timedelta(hours=limit):
            continue
        below = responsible(row.region, contacts)
        to = above(below, contacts) if below is not None else None
        if below is not None and to is not None:
            due[(to, below)].append((row, limit))
    for (to, below), items in sorted(due.items()):
        lines = [
            _line(
                "faults.line_open",
                i,
                r,
                hours=int((now - r.fault.opened_at).total_seconds() // 3600),
                limit=limit,
            )
            for i, (r, limit) in enumerate(items, start=1)
        ]
        place = region_name(to)
        notices.append(
            _notice(
                session,
                region=to,
                kind=NoticeKind.ESCALATION,
                title=i18n.render("faults.escalation_title", "zh", {"region": place, "n": len(items)}),
                intro=i18n.render(
                    "faults.escalation_intro", "zh", {"region": place, "below": region_name(below)}
                ),
                lines=lines,
                faults=[r.fault for r, _ in items],
                contacts=contacts[to],
                now=now,
            )
        )
        for r, _ in items:
            r.fault.escalated_at = now
    session.flush()
    return notices


# --- delivering them ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    sent: int
    failed: int


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes after each failure, at most an hour."""
    delay: timedelta = FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 10)
    return min(delay, MAX_BACKOFF)


def deliver_pending(session: Session, *, now: datetime, send: Sender, limit: int = 500) -> Delivered:
    """Try every pending delivery that is due; each outcome is written on its row."""
    now = now.astimezone(UTC)
    due = session.execute(
        select(Delivery, Notice)
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(Delivery.sent_at.is_(None), Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    ).all()
    sent = failed = 0
    for delivery, notice in due:
        delivery.attempts += 1
        try:
            send(delivery.kind, delivery.target, notice.title, notice.body)
        except Exception as exc:  # whatever one contact's channel raises, the others still go out
            delivery.last_error = str(exc)[:2000]
            delivery.next_attempt_at = now + backoff(delivery.attempts)
            failed += 1
            log.warning("fault notice %s to %s failed (attempt %s): %s", notice.id, delivery.target,
                        delivery.attempts, exc)  # fmt: skip
        else:
            delivery.sent_at = now
            delivery.last_error = ""
            sent += 1
    session.flush()
    return Delivered(sent, failed)


_DINGTALK = re.compile(r"^https://oapi\.dingtalk\.com/robot/send\b")
_APPRISE_SCHEMES = ("wecombot://", "dingtalk://", "json://", "jsons://")


def webhook_url(url: str) -> str:
    """The apprise URL of a webhook: WeCom robot URLs apprise reads as they are; a DingTalk robot's
    https://oapi.dingtalk.com/robot/send?access_token=T is dingtalk://T; any other http(s) URL is a
    JSON webhook (json:// or jsons://: apprise POSTs {"title", "message", ...})."""
    url = url.strip()
    if url.startswith(_APPRISE_SCHEMES):
        return url
    if _DINGTALK.match(url):
        token = parse_qs(urlsplit(url).query).get("access_token", [""])[0]
        return f"dingtalk://{token}/"
    if url.startswith("https://qyapi.weixin.qq.com/"):
        return url
    if url.startswith("http://"):
        return "json://" + url.removeprefix("http://")
    if url.startswith("https://"):
        return "jsons://" + url.removeprefix("https://")
    raise MediaError("faults.webhook_invalid", url=url)


# Metadata services of clouds that are not link-local (169.254.169.254 and fd00:ec2::254 are caught by
# is_link_local / is_private already): Alibaba Cloud's 100.100.100.200 sits in shared address space.
_METADATA = frozenset({ipaddress.ip_address("100.100.100.200")})


def _inside(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address a webhook must not reach: loopback, private, link-local (cloud metadata), shared
    (carrier NAT), multicast, unspecified or reserved; an IPv4 address mapped into IPv6 as itself."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address in _METADATA
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    )


def webhook_host(url: str) -> tuple[str, int] | None:
    """The host and port a webhook URL sends to; None for the robot schemes whose host is fixed
    (wecombot://, dingtalk://: apprise posts to WeCom's or DingTalk's own servers)."""
    url = url.strip()
    if url.startswith(("wecombot://", "dingtalk://")):
        return None
    for scheme, port in (("json://", 80), ("jsons://", 443), ("http://", 80), ("https://", 443)):
        if url.startswith(scheme):
            parts = urlsplit("http://" + url.removeprefix(scheme))
            try:
                return (parts.hostname or "", parts.port or port)
            except ValueError:  # a port out of range
                raise MediaError("faults.webhook_invalid", url=url) from None
    raise MediaError("faults.webhook_invalid", url=url)


def check_webhook(url: str, *, internal_ok: bool, resolve: bool = False) -> None:
    """Refuse a webhook that would reach inside the centre's network: a loopback, private,
    link-local or metadata address, given or resolved (MediaError faults.webhook_internal).
    `internal_ok` (MEDIASRV_FAULT_WEBHOOK_INTERNAL) lets them through. A name that does not resolve
    is refused only with `resolve` (at send time); when a contact is added the centre's DNS may be
    down, and the name is looked up again before every delivery."""
    if internal_ok:
        return
    found = webhook_host(url)
    if found is None:
        return
    host, port = found
    if not host:
        raise MediaError("faults.webhook_invalid", url=url)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            if resolve:
                raise MediaError("faults.webhook_unresolved", host=host) from None
            return
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for address in addresses:
        if _inside(address):
            raise MediaError("faults.webhook_internal", host=host, address=str(address))


def email_url(settings: Settings, to: str) -> str:
    """The apprise URL of one email through the configured mail server."""
    if not settings.smtp_host:
        raise MediaError("faults.smtp_not_set")
    scheme = "mailto" if settings.smtp_secure == "no" else "mailtos"
    auth = ""
    if settings.smtp_user:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        auth = f"{quote(settings.smtp_user, safe='')}:{quote(password, safe='')}@"
    sender = settings.smtp_from or f"mediasrv@{settings.smtp_host}"
    query = f"smtp={quote(settings.smtp_host)}&from={quote(sender)}&to={quote(to)}&format=text"
    if settings.smtp_secure != "no":
        query += f"&mode={settings.smtp_secure}"
    return f"{scheme}://{auth}{settings.smtp_host}:{settings.smtp_port}/?{query}"


class AppriseSender:
    """Delivers through apprise (SMTP, WeCom and DingTalk robots, JSON webhooks)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, kind: ContactKind, target: str, title: str, body: str) -> None:
        import apprise  # here: only the workers deliver; the API never loads it

        if kind is ContactKind.WEBHOOK:
            # Looked up again now: a name may have come to point inside since the contact was added.
            # (apprise resolves it once more to connect; the window between the two is small.)
            try:
                check_webhook(target, internal_ok=self.settings.fault_webhook_internal, resolve=True)
            except MediaError as exc:
                raise DeliveryFailed(exc.render("zh")) from None
        url = email_url(self.settings, target) if kind is ContactKind.EMAIL else webhook_url(target)
        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise DeliveryFailed(f"apprise cannot use {kind.value} target {target!r}")
        with apprise.LogCapture(level=logging.WARNING) as captured:  # type: ignore[no-untyped-call]
            ok = notifier.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        if not ok:
            raise DeliveryFailed(captured.getvalue().strip()[-1000:] or "delivery failed")
