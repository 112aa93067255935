"""Faults the site reports from its site view (报告故障): the TV broken, the set-top box lost or
broken, the line down, or something else, with a note.

They travel like study records (agent.records): the site view posts one to the LAN origin (POST
/faults, same-origin checks as /records), it waits in its own outbox (<dir>/faults/<id>.json,
agent.outbox: kept through outages and restarts, bounded at the door), and the sync run delivers it
with the site's token to POST /api/v1/sites/{id}/fault-reports, before the heartbeat. Its id is made
once per opened form, so the outbox keeps a form sent twice once and the centre records a report
delivered twice once. The centre's answer names the fault it joined (kept on the item as fault_id).

What became of them comes back with the heartbeat's answer (its "faults": the site's reported faults
open now or closed in the last month, with the closing note), kept in <dir>/faults-centre.json: the
lightest way back, since the heartbeat goes every run and is answered at once, while the manifest is
signed and versioned for what the site plays. The site view (GET /faults) shows each report as
waiting, received by the centre, or closed with what was done.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from mediasrv.agent import outbox
from mediasrv.agent.layout import Layout, write_atomic
from mediasrv.agent.outbox import KEEP_DAYS, Parcel, Run, State
from mediasrv.agent.records import RECORD_ID, Invalid

log = logging.getLogger("mediasrv.agent")

KIND = "fault"
# The kinds a site reports (the server's FaultKind values), as the site view names them.
KINDS: dict[str, str] = {
    "tv_broken": "电视坏了",
    "box_lost": "机顶盒丢失或损坏",
    "line_down": "网络不通",
    "other": "其他",
}
NOTE_MAX = 2000  # the server's limit (mediasrv.faults.schemas.Note)
MAX_PENDING = 100  # a site reports a handful; more waiting is a stuck line or a stuck key
MAX_BYTES = 2 * 2**20
JSON_MAX_BYTES = 16 * 1024  # a posted report: a 2,000-character note is well under it
CENTRE_FILE = "faults-centre.json"


class Outbox(outbox.Outbox):
    """<dir>/faults: the reports' outbox, keeping receipts (the site view lists them)."""

    def __init__(self, layout: Layout) -> None:
        super().__init__(
            layout, "faults", keep_days=KEEP_DAYS, receipts=True, max_pending=MAX_PENDING, max_bytes=MAX_BYTES
        )

    def _read(self, path: Path) -> outbox.Item | None:
        item = super()._read(path)
        return item if item is None or item.kind == KIND else None


def new_report(data: dict[str, Any], *, now: datetime | None = None) -> outbox.Item:
    """A report as the member made it: one of KINDS and a note (needed for 其他: say what)."""
    report_id = data.get("id")
    if not isinstance(report_id, str) or not RECORD_ID.fullmatch(report_id):
        raise Invalid("报告编号不对（应是 32 位小写十六进制）：请关闭表单后重新报告。")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise Invalid("请选择故障类型：" + "、".join(KINDS.values()) + "。")
    note = data.get("note") or ""
    if not isinstance(note, str):
        raise Invalid("情况说明应是文字。")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise Invalid(f"情况说明最多 {NOTE_MAX} 个字，现在有 {len(note)} 个。")
    if any(ord(c) < 32 and c not in "\n\t" for c in note):
        raise Invalid("情况说明里有不能保存的控制字符：请删掉后重新填写。")
    if kind == "other" and not note:
        raise Invalid("选择“其他”时，请在情况说明里写清是什么故障。")
    when = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
    return outbox.Item(KIND, report_id, when, {"kind": kind, "note": note, "reported_at": when})


# --- what the centre said -------------------------------------------------------------------------


def remember_centre(layout: Layout, ack: dict[str, Any] | None) -> None:
    """Keep the faults a heartbeat's answer carried (an older server sends none: nothing kept)."""
    if not ack or not isinstance(ack.get("faults"), list):
        return
    faults = [f for f in ack["faults"] if isinstance(f, dict) and isinstance(f.get("id"), int)]
    body = {"at": datetime.now(UTC).isoformat(), "faults": faults}
    write_atomic(layout.root / CENTRE_FILE, json.dumps(body, ensure_ascii=False).encode())


def centre(layout: Layout) -> dict[str, Any]:
    """{"at", "faults"} of the last heartbeat answer that told of faults; {} before any."""
    try:
        value = json.loads((layout.root / CENTRE_FILE).read_bytes())
    except (FileNotFoundError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def listing(layout: Layout) -> dict[str, Any]:
    """For the site view: the reports, newest first, each with what the centre last said of its
    fault, and the centre's faults of this site no report here made (a phone call)."""
    told = centre(layout)
    by_id = {f["id"]: f for f in told.get("faults", [])}
    reports = []
    for item in reversed(Outbox(layout).all()):
        fault = by_id.get(item.extra.get("fault_id")) if item.state is State.DELIVERED else None
        reports.append(shown(item, fault))
    mine = {r["fault_id"] for r in reports if r["fault_id"] is not None}
    others = [f for f in by_id.values() if f["id"] not in mine and f.get("closed_at") is None]
    return {"reports": reports, "centre_at": told.get("at"), "centre_faults": others}


def shown(item: outbox.Item, fault: dict[str, Any] | None = None) -> dict[str, Any]:
    """A report as the site view lists it: its state here, and the centre's word on its fault."""
    return {
        "id": item.id,
        "kind": item.body.get("kind"),
        "note": item.body.get("note", ""),
        "reported_at": item.body.get("reported_at"),
        "state": item.state.value,
        "message": item.message,
        "delivered_at": item.delivered_at,
        "fault_id": item.extra.get("fault_id"),
        "closed_at": (fault or {}).get("closed_at"),
        "closed_note": (fault or {}).get("closed_note"),
    }


# --- delivery, in the sync run ----------------------------------------------------------------------


@dataclass
class FaultsDelivery:
    sent: int
    refused: int
    queued: int
    error: str | None


def last_delivery(layout: Layout) -> dict[str, Any]:
    return Outbox(layout).last_delivery()


class FaultSender:
    def __init__(self, layout: Layout, client: httpx.Client, site_id: int) -> None:
        self.layout, self.client, self.site_id = layout, client, site_id
        self.outbox = Outbox(layout)

    def deliver(self) -> FaultsDelivery:
        """Send the waiting reports, oldest first, as agent.outbox sends (a wait for everything stops
        the run; a refusal stays with the server's reason). A delivered report keeps the fault id
        the centre answered."""
        url = f"/api/v1/sites/{self.site_id}/fault-reports"

        def plan(run: Run) -> Iterator[Parcel]:
            for item in self.outbox.pending():
                yield Parcel([item], "POST", url, {"json": {"id": item.id, **item.body}})
                # Resumed after the answer was settled: a delivering one is run.answer.
                answer = run.answer if isinstance(run.answer, dict) else {}
                if item.state is State.DELIVERED and isinstance(answer.get("fault_id"), int):
                    item.extra["fault_id"] = answer["fault_id"]
                    self.outbox.save(item)

        run = self.outbox.deliver(self.client, plan)
        self.outbox.prune()
        queued = len(self.outbox.pending())
        if run.error:
            log.warning("fault reports not delivered (%s): %d waiting", run.error, queued)
        return FaultsDelivery(run.sent, run.refused, queued, run.error)
