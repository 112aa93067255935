"""Terminal sites: registry and bulk import."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from mediasrv import epochs
from mediasrv.audit.service import Action, record
from mediasrv.kit.caller import Caller
from mediasrv.kit.errors import Conflict, Forbidden, MediaError, NotFound
from mediasrv.sites.models import DeviceProfile, Site
from mediasrv.sites.schemas import GB as GB  # the unit of `mediasrv site create --quota-gb`
from mediasrv.sites.schemas import SiteRow

_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
CSV_COLUMNS = ("code", "name", "region", "device_profile", "quota_gb", "download_window", "bandwidth_kbps")


def normalise_region(region: str) -> str:
    """'省/市/县/乡/村' with surrounding spaces and empty parts removed."""
    return "/".join(part.strip() for part in region.split("/") if part.strip())


def parse_window(window: str | None) -> tuple[str | None, str | None]:
    """'01:00-05:00' -> ('01:00', '05:00'); empty -> no window. A window may wrap midnight."""
    if not window or not window.strip():
        return None, None
    m = _WINDOW.match(window.strip().replace("：", ":").replace(" ", ""))
    if m is None:
        raise MediaError(f"Download window '{window}' is not like 01:00-05:00 (24-hour clock).")
    start, end = f"{m[1]}:{m[2]}", f"{m[3]}:{m[4]}"
    if start == end:
        raise MediaError(f"Download window '{window}' is empty: start and end are the same.")
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
) -> Site:
    code = code.strip()
    if not _CODE.match(code):
        raise MediaError("A site code is 1-64 letters, digits or . _ - (for example 'hb-xt-0012').")
    if session.scalar(select(Site).where(Site.code == code)) is not None:
        raise Conflict(f"A site with code '{code}' already exists.")
    if quota_bytes is not None and quota_bytes <= 0:
        raise MediaError("The storage quota must be positive (or empty for no limit).")
    if bandwidth_kbps is not None and bandwidth_kbps <= 0:
        raise MediaError("The bandwidth cap must be positive (or empty for no cap).")
    start, end = parse_window(download_window)
    site = Site(
        code=code,
        name=name.strip() or code,
        region=normalise_region(region),
        device_profile=device_profile,
        quota_bytes=quota_bytes,
        window_start=start,
        window_end=end,
        bandwidth_kbps=bandwidth_kbps,
    )
    session.add(site)
    session.flush()
    record(
        session,
        actor,
        Action.SITE_CREATE,
        "site",
        site.id,
        code=code,
        name=site.name,
        region=site.region,
        device_profile=device_profile.value,
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
) -> Site:
    """Change a site's settings (None clears quota, window and cap); its manifest follows."""
    site = get_site(session, site_id)
    before = {
        "name": site.name,
        "region": site.region,
        "device_profile": site.device_profile.value,
        "quota_bytes": site.quota_bytes,
        "download_window": site.download_window,
        "bandwidth_kbps": site.bandwidth_kbps,
    }
    if name is not None:
        site.name = name.strip() or site.code
    if region is not None:
        site.region = normalise_region(region)
    if device_profile is not None:
        site.device_profile = device_profile
    if quota_bytes is not _UNSET:
        if isinstance(quota_bytes, int) and quota_bytes <= 0:
            raise MediaError("The storage quota must be positive (or empty for no limit).")
        site.quota_bytes = quota_bytes  # type: ignore[assignment]
    if download_window is not _UNSET:
        site.window_start, site.window_end = parse_window(download_window)  # type: ignore[arg-type]
    if bandwidth_kbps is not _UNSET:
        if isinstance(bandwidth_kbps, int) and bandwidth_kbps <= 0:
            raise MediaError("The bandwidth cap must be positive (or empty for no cap).")
        site.bandwidth_kbps = bandwidth_kbps  # type: ignore[assignment]
    after = {
        "name": site.name,
        "region": site.region,
        "device_profile": site.device_profile.value,
        "quota_bytes": site.quota_bytes,
        "download_window": site.download_window,
        "bandwidth_kbps": site.bandwidth_kbps,
    }
    changed = {k: {"before": before[k], "after": v} for k, v in after.items() if before[k] != v}
    if changed:
        epochs.bump(session, epochs.MANIFESTS)
        if "region" in changed:  # the lists that target it may differ
            epochs.bump(session, epochs.STUDY)
        record(session, actor, Action.SITE_UPDATE, "site", site.id, **changed)
    return site


@dataclass
class ImportResult:
    created: list[Site] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, what is wrong)


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), else GB18030 (what Chinese Excel saves by default)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise MediaError(
                "The CSV file is neither UTF-8 nor GB18030 text: save it as 'CSV UTF-8'."
            ) from None


def import_sites(session: Session, *, actor: Caller, text: str) -> ImportResult:
    """Register every good row; report each bad row by its line number and keep going."""
    try:
        return _import_rows(session, actor, csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # quoting gone wrong: no row after it can be trusted
        raise MediaError(f"The CSV cannot be read: {exc}. Save it again from Excel as CSV.") from None


def _import_rows(session: Session, actor: Caller, reader: csv.DictReader[str]) -> ImportResult:
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("code", "name") if c not in header]
    if missing:
        raise MediaError(
            f"The CSV header needs the columns {', '.join(missing)}; it may have: {', '.join(CSV_COLUMNS)}."
        )
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise MediaError(
            f"Unknown CSV columns: {', '.join(unknown)}; the columns are: {', '.join(CSV_COLUMNS)}."
        )
    result = ImportResult()
    for row in reader:
        line = reader.line_num
        cells = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        # An empty cell is an absent value (the default), except where a value is required.
        given = {k: v for k, v in cells.items() if v or k in ("code", "name")}
        try:
            fields = SiteRow.model_validate(given).site_fields()
        except ValidationError as exc:
            result.errors.append((line, _problems(exc)))
            continue
        try:
            with session.begin_nested():  # a bad row rolls back alone
                site = create_site(session, actor=actor, **fields)
            result.created.append(site)
        except MediaError as exc:
            result.errors.append((line, exc.message))
    return result


def _problems(exc: ValidationError) -> str:
    """'quota_gb 'nan': Input should be a finite number', for each field of the row that is wrong."""
    said = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        value = error.get("input")
        if isinstance(value, str):
            shown = repr(value) if len(value) <= 40 else f"{value[:20]!r}… ({len(value)} characters)"
            field = f"{field} {shown}"
        said.append(f"{field}: {error['msg']}")
    return "; ".join(said)


def site_by_code(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        raise NotFound(f"No site with code '{code}'.")
    return site


def site_under(region: str) -> ColumnElement[bool]:
    """Sites in the region itself or below it ('河北省/邢台市' does not take in '河北省/邢台市区')."""
    if not region:
        return true()
    return or_(Site.region == region, Site.region.startswith(region + "/", autoescape=True))


def get_site(session: Session, site_id: int, *, caller: Caller | None = None) -> Site:
    """A site; a site's own credentials may read only that site."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"No site with id {site_id}.")
    if caller is not None and caller.site_id is not None and caller.site_id != site_id:
        raise Forbidden("A site may read only its own records.")
    return site


def list_sites(session: Session) -> list[Site]:
    return list(session.scalars(select(Site).order_by(Site.code)))
