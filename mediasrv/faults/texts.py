"""What a fault says to a person: its kind and evidence as one phrase, in Chinese or English."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mediasrv.faults.models import FaultKind
from mediasrv.kit import i18n
from mediasrv.kit.i18n import Lang
from mediasrv.protocol.china import CHINA

GIB = 1024**3


def beijing(value: datetime | str | None, lang: Lang = "zh") -> str:
    """A time as the people of a region read it: Beijing time to the minute."""
    if value is None:
        return i18n.render("faults.unknown", lang)
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:.1f} GB"


def what(kind: FaultKind, evidence: dict[str, Any], note: str = "", lang: Lang = "zh") -> str:
    """'失去联系，最后上报于 2026-12-01 08:00' and the like."""
    e = evidence
    if kind is FaultKind.SILENT:
        if not e.get("last_seen_at"):
            text = i18n.render("faults.kind.silent_never", lang)
        else:
            text = i18n.render("faults.kind.silent", lang, {"last_seen": beijing(e["last_seen_at"], lang)})
    elif kind is FaultKind.SYNC_STALLED:
        params = {"days": e.get("limit_days", "?"), "files": e.get("files_missing") or 0}
        text = i18n.render("faults.kind.sync_stalled", lang, params)
    elif kind is FaultKind.FILES_FAILED:
        text = i18n.render("faults.kind.files_failed", lang, {"n": e.get("files_failed", "?")})
    elif kind is FaultKind.DISK:
        text = i18n.render("faults.kind.disk", lang, {"free": _gib(e.get("free_bytes"))})
    elif kind is FaultKind.AGENT_OLD:
        params = {"version": e.get("agent_version", "?"), "min": e.get("min_version", "?")}
        text = i18n.render("faults.kind.agent_old", lang, params)
    elif kind is FaultKind.IDLE:
        text = i18n.render("faults.kind.idle", lang, {"days": e.get("days", "?")})
    else:
        text = i18n.render(f"faults.kind.{kind.value}", lang)
    if note:
        text += i18n.render("faults.note", lang, {"note": note})
    return text


def region_name(region: str, lang: Lang = "zh") -> str:
    return region or i18n.render("faults.whole_network", lang)
