"""Terminal sites: registry and bulk import."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.audit.service import Action, record
from mediasrv.kit import i18n
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import Conflict, Forbidden, MediaError, NotFound
from mediasrv.kit.i18n import Lang, Text
from mediasrv.kit.regions import Scope, common_region, under
from mediasrv.kit.regions import normalise_region as normalise_region  # where the registry's users find it
from mediasrv.sites.models import DeviceProfile, Site
from mediasrv.sites.schemas import GB as GB  # the unit of `mediasrv site create --quota-gb`
from mediasrv.sites.schemas import SiteRow

_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
CSV_COLUMNS = (
    "code",
    "name",
    "region",
    "device_profile",
    "quota_gb",
    "download_window",
    "bandwidth_kbps",
    "languages",
)


def parse_window(window: str | None) -> tuple[str | None, str | None]:
    """'01:00-05:00' -> ('01:00', '05:00'); empty -> no window. A window may wrap midnight."""
    if not window or not window.strip():
        return None, None
    m = _WINDOW.match(window.strip().replace("：", ":").replace(" ", ""))
    if m is None:
        raise MediaError("sites.window_malformed", window=window)
    start, end = f"{m[1]}:{m[2]}", f"{m[3]}:{m[4]}"
    if start == end:
        raise MediaError("sites.window_empty", window=window)
    return start, end


def create_site(
    session: Session,
    *,
    actor: Caller,
    code: str,
    name: str,
    region: str,
    device_profile: DeviceProfile = DeviceProfile.IPTV,
    quota_bytes: int | None = None,
    download_window: str | None = None,
    bandwidth_kbps: int | None = None,
    languages: list[str] | None = None,
) -> Site:
    code = code.strip()
    if not _CODE.match(code):
        raise MediaError("sites.code_invalid")
    if session.scalar(select(Site).where(Site.code == code)) is not None:
        raise Conflict("sites.code_taken", site_code=code)
    if quota_bytes is not None and quota_bytes <= 0:
        raise MediaError("sites.quota_not_positive")
    if bandwidth_kbps is not None and bandwidth_kbps <= 0:
        raise MediaError("sites.bandwidth_not_positive")
    start, end = parse_window(download_window)
    site = Site(
        code=code,
        name=name.strip() or code,
        region=Scope.of(actor).admit(region),  # none given: the actor's own scope
        device_profile=device_profile,
        quota_bytes=quota_bytes,
        window_start=start,
        window_end=end,
        bandwidth_kbps=bandwidth_kbps,
        languages=list(languages or []),
    )
    session.add(site)
    session.flush()
    record(
        session,
        actor,
        Action.SITE_CREATE,
        "site",
        site.id,
        in_region=site.region,
        code=code,
        name=site.name,
        region=site.region,
        device_profile=device_profile.value,
        languages=site.languages,
    )
    return site


_UNSET: object = object()


def update_site(
    session: Session,
    *,
    actor: Caller,
    site_id: int,
    name: str | None = None,
    region: str | None = None,
    device_profile: DeviceProfile | None = None,
    quota_bytes: int | object | None = _UNSET,
    download_window: str | object | None = _UNSET,
    bandwidth_kbps: int | object | None = _UNSET,
    languages: list[str] | None = None,
) -> Site:
    """Change a site's settings (None clears quota, window and cap); its manifest follows. Only a
    site in the actor's scope, and never moved out of it."""
    site = get_site(session, site_id, caller=actor)
    before = {
        "name": site.name,
        "region": site.region,
        "device_profile": site.device_profile.value,
        "quota_bytes": site.quota_bytes,
        "download_window": site.download_window,
        "bandwidth_kbps": site.bandwidth_kbps,
        "languages": list(site.languages),
    }
    if name is not None:
        site.name = name.strip() or site.code
    if region is not None:
        site.region = Scope.of(actor).admit(region)
    if device_profile is not None:
        site.device_profile = device_profile
    if quota_bytes is not _UNSET:
        if isinstance(quota_bytes, int) and quota_bytes <= 0:
            raise MediaError("sites.quota_not_positive")
        site.quota_bytes = quota_bytes  # type: ignore[assignment]
    if download_window is not _UNSET:
        site.window_start, site.window_end = parse_window(download_window)  # type: ignore[arg-type]
    if bandwidth_kbps is not _UNSET:
        if isinstance(bandwidth_kbps, int) and bandwidth_kbps <= 0:
            raise MediaError("sites.bandwidth_not_positive")
        site.bandwidth_kbps = bandwidth_kbps  # type: ignore[assignment]
    if languages is not None:  # a new list, not changed in place: the JSON column sees the change
        site.languages = list(languages)
    after = {
        "name": site.name,
        "region": site.region,
        "device_profile": site.device_profile.value,
        "quota_bytes": site.quota_bytes,
        "download_window": site.download_window,
        "bandwidth_kbps": site.bandwidth_kbps,
        "languages": list(site.languages),
    }
    changed = {k: {"before": before[k], "after": v} for k, v in after.items() if before[k] != v}
    if changed:
        epochs.bump(session, epochs.MANIFESTS)
        if "region" in changed:  # the lists that target it may differ
            epochs.bump(session, epochs.STUDY)
        # Under its new region, and its old one too when it moved: both administrators see the move.
        where = common_region([str(before["region"]), site.region]) if "region" in changed else site.region
        record(session, actor, Action.SITE_UPDATE, "site", site.id, in_region=where, **changed)
    return site


# --- the CSV import ------------------------------------------------------------------------------
# A clerk's spreadsheet: the first line names the columns, in English (CSV_COLUMNS) or in Chinese
# (CSV_COLUMNS_ZH, the sites page's labels); what Excel or a clerk may add (spaces, full-width
# brackets, the fleet export's "站点编码 code") still names the column.

CSV_COLUMNS_ZH = (
    "站点编码",
    "站点名称",
    "所属地区",
    "终端类型",
    "存储配额（GB）",
    "下载时段",
    "带宽上限（kbps）",
    "语言",
)
_ALSO = {  # other names people use for a column
    "code": ("编码", "站点代码"),
    "name": ("名称",),
    "region": ("地区",),
    "device_profile": ("设备类型", "终端"),
    "quota_gb": ("存储配额", "配额"),
    "bandwidth_kbps": ("带宽上限", "带宽"),
    "languages": ("语种", "站点语言", "民族语言"),
}
# The device types as the sites page names them (web/words/sites.json), and shorter.
_DEVICE_NAMES = {
    DeviceProfile.IPTV: ("机顶盒", "IPTV 机顶盒", "网络机顶盒"),
    DeviceProfile.IPTV_LEGACY: ("老式机顶盒", "老式机顶盒（标清）", "标清机顶盒"),
    DeviceProfile.MOBILE: ("手机",),
    DeviceProfile.PC: ("电脑", "电脑或投影", "投影", "投影仪"),
}
_REQUIRED = ("code", "name")


def _fold(text: str) -> str:
    """What a header or a device name means, whatever its width, case and spaces (（GB） is (gb))."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


_COLUMN_OF = {
    _fold(name): column
    for column, zh in zip(CSV_COLUMNS, CSV_COLUMNS_ZH, strict=True)
    for name in (column, zh, f"{zh} {column}", *_ALSO.get(column, ()))
}
_DEVICE_OF = {
    _fold(name): profile for profile, names in _DEVICE_NAMES.items() for name in (profile.value, *names)
}


@dataclass(frozen=True)
class CellProblem:
    """One thing wrong with a row: its column as the file's first line names it ("" for the row as a
    whole), what was in the cell, and the catalogue text that says what to do."""

    column: str
    value: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: Lang) -> str:
        # A sentence of its own inside a longer one: without its full stop.
        problem = i18n.render(self.key, lang, self.params).rstrip("。.")
        if not self.column:
            return i18n.render(self.key, lang, self.params)
        if not self.value:
            return i18n.render("sites.cell_problem_empty", lang, {"column": self.column, "problem": problem})
        shown = self.value if len(self.value) <= 20 else self.value[:20] + "…"
        shown = "".join(
            "\ufffd" if _unprintable(c) else c for c in shown
        )  # an XLSX or a page cannot show them
        return i18n.render(
            "sites.cell_problem", lang, {"column": self.column, "value": shown, "problem": problem}
        )


@dataclass(frozen=True)
class BadRow:
    """A row that was not imported (nothing of it was), with every problem it has; `row` counts as
    Excel does: the first line is row 1."""

    row: int
    problems: tuple[CellProblem, ...]

    def render(self, lang: Lang) -> str:
        return ("；" if lang == "zh" else "; ").join(p.render(lang) for p in self.problems)


@dataclass
class ImportResult:
    created: list[Site] = field(default_factory=list)
    errors: list[BadRow] = field(default_factory=list)


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), else GB18030 (what Chinese Excel saves by default)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise MediaError("sites.csv_encoding") from None


def import_sites(session: Session, *, actor: Caller, text: str) -> ImportResult:
    """Register every good row; report every problem of every bad row, which registers nothing, and
    keep going: the clerk corrects the bad rows and imports those again."""
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        return _import_rows(session, actor, rows)
    except csv.Error:  # quoting gone wrong: no row after it can be trusted
        raise MediaError("sites.csv_unreadable", row=rows.line_num) from None


def _columns(typed: list[str]) -> dict[str, str]:
    """Each column of the file (CSV_COLUMNS) -> its header as typed; refuses a header it cannot use."""
    named: dict[str, str] = {}
    unknown, repeated = [], []
    for header in typed:
        column = _COLUMN_OF.get(_fold(header))
        if column is None:
            unknown.append(header)
        elif column in named:
            repeated.append(f"{named[column]}, {header}")
        else:
            named[column] = header
    listed = {"columns_zh": ",".join(CSV_COLUMNS_ZH), "columns_en": ",".join(CSV_COLUMNS)}
    if unknown:
        raise MediaError("sites.csv_columns_unknown", unknown=", ".join(unknown), **listed)
    if repeated:
        raise MediaError("sites.csv_columns_repeated", repeated="; ".join(repeated))
    if missing := [c for c in _REQUIRED if c not in named]:
        zh = dict(zip(CSV_COLUMNS, CSV_COLUMNS_ZH, strict=True))
        raise MediaError(
            "sites.csv_columns_missing", missing=", ".join(f"{zh[c]} ({c})" for c in missing), **listed
        )
    return named


def _import_rows(session: Session, actor: Caller, rows: Iterator[list[str]]) -> ImportResult:
    typed = [h.strip() for h in next(rows, [])]
    while typed and not typed[-1]:  # Excel's trailing empty cells
        typed.pop()
    named = _columns(typed)
    order = [_COLUMN_OF[_fold(h)] for h in typed]
    result = ImportResult()
    first_row: dict[str, int] = {}  # code -> the row that registered it
    for row, cells in enumerate(rows, start=2):
        if not any(c.strip() for c in cells):
            continue  # an empty line: nothing to import, nothing wrong
        values = {column: cell.strip() for column, cell in zip(order, cells, strict=False)}
        problems = _check_row(session, values, named, first_row)
        if extra := [c for c in cells[len(order) :] if c.strip()]:
            problems.append(CellProblem("", "", "sites.row_extra_cells", {"n": len(extra)}))
        if problems:
            result.errors.append(BadRow(row, tuple(problems)))
            continue
        fields = SiteRow.model_validate(_given(values)).site_fields()
        fields["device_profile"] = _DEVICE_OF.get(_fold(values.get("device_profile", "")), DeviceProfile.IPTV)
        try:
            with session.begin_nested():  # a row that fails here rolls back alone
                site = create_site(session, actor=actor, **fields)
        except MediaError as exc:
            result.errors.append(BadRow(row, (CellProblem("", "", exc.key, exc.params),)))
            continue
        result.created.append(site)
        first_row[site.code] = row
    return result


def _check_row(
    session: Session, values: dict[str, str], named: dict[str, str], first_row: dict[str, int]
) -> list[CellProblem]:
    """Every problem of one row, each by its column: the API's rules (SiteRow), the code's form and
    uniqueness (in the registry and in the file), the download window's form."""
    problems: list[CellProblem] = []

    def cell(column: str, key: str, **params: Any) -> None:
        problems.append(CellProblem(named[column], values.get(column, ""), key, params))

    device = values.get("device_profile")
    if device and _fold(device) not in _DEVICE_OF:
        cell(
            "device_profile",
            "sites.row_device_unknown",
            names=tuple(Text(f"sites.device.{p.value}") for p in DeviceProfile),
        )
    try:
        SiteRow.model_validate(_given(values))
    except ValidationError as exc:
        for error in exc.errors():
            column = str(error["loc"][0]) if error["loc"] else ""
            key, params = _problem(error)
            if column in named:
                cell(column, key, **params)
            else:
                problems.append(CellProblem("", "", key, params))
    code = values.get("code", "")
    if code and not any(p.column == named["code"] for p in problems):
        if not _CODE.match(code):
            cell("code", "sites.code_invalid")
        elif code in first_row:
            cell("code", "sites.row_code_repeated", row=first_row[code])
        elif session.scalar(select(Site.id).where(Site.code == code)) is not None:
            cell("code", "sites.code_taken", site_code=code)
    window = values.get("download_window", "")
    if window and not any(p.column == named.get("download_window") for p in problems):
        try:
            parse_window(window)
        except MediaError as exc:
            cell("download_window", exc.key, **exc.params)
    return problems


def _given(values: dict[str, str]) -> dict[str, str]:
    """What SiteRow validates: an empty cell is an absent value (the default); the device type is
    read by its Chinese or English name here (_DEVICE_OF), not by the enum's value."""
    return {k: v for k, v in values.items() if v and k != "device_profile"}


def _problem(error: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A pydantic error of a cell as a catalogue key and its parameters."""
    kind = error["type"]
    # A float field's bounds are floats: "0", not "0.0"
    ctx = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in (error.get("ctx") or {}).items()
    }
    if kind == "missing":
        return "sites.row_required", {}
    if kind in i18n.MESSAGES:  # a validator's own (sites.control_character)
        return kind, ctx
    if f"problem.{kind}" in i18n.MESSAGES:
        return f"problem.{kind}", ctx
    return "sites.row_value_invalid", {}


def _unprintable(char: str) -> bool:
    return char < " " or "\x7f" <= char <= "\x9f" or "\ud800" <= char <= "\udfff"


def site_by_code(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        raise NotFound("sites.no_site_code", site_code=code)
    return site


def site_under(region: str) -> ColumnElement[bool]:
    """Sites in the region itself or below it ('河北省/邢台市' does not take in '河北省/邢台市区')."""
    return under(Site.region, region)


def get_site(session: Session, site_id: int, *, caller: Caller | None = None) -> Site:
    """A site; a site's own credentials may read only that site, an administrator only a site in its
    scope (outside it, as if there were none: 404)."""
    site = session.get(Site, site_id)
    if site is None or (caller is not None and not Scope.of(caller).covers(site.region)):
        raise NotFound("sites.no_site", site_id=site_id)
    if caller is not None and caller.site_id is not None and caller.site_id != site_id:
        raise Forbidden("sites.own_records_only")
    return site


def list_sites(session: Session, *, scope: Scope) -> list[Site]:
    return list(session.scalars(select(Site).where(scope.where(Site.region)).order_by(Site.code)))


def regions_within(session: Session, bound: str) -> list[str]:
    """Every region at or below `bound` that has sites, with the levels between it and `bound`
    (`bound` itself first), sorted: the suggestions of a region field whose answer must lie inside
    `bound` (a programme's publication region)."""
    found = {bound}
    depth = len(bound.split("/")) if bound else 0
    for region in session.scalars(select(Site.region).where(site_under(bound)).distinct()):
        parts = region.split("/")
        found.update("/".join(parts[:n]) for n in range(depth + 1, len(parts) + 1))
    return [bound, *sorted(found - {bound})]
