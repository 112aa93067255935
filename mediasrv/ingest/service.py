"""Upload registration and asset queries. Services flush; the caller's unit of work commits."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mediasrv.accounts.models import OrgUnit
from mediasrv.accounts.service import department_region
from mediasrv.audit.service import Action, record
from mediasrv.ingest.models import Asset, AssetFile, AssetStatus, new_id
from mediasrv.ingest.sniff import Sniffed, describe, sniff
from mediasrv.ingest.spool import Received
from mediasrv.kit.caller import Caller, Role
from mediasrv.kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ObjectNotFound,
    StorageUnavailable,
    UnsupportedMedia,
)
from mediasrv.kit.i18n import Text
from mediasrv.kit.regions import Scope
from mediasrv.storage import ObjectStore, keys

log = logging.getLogger(__name__)


def register_upload(
    session: Session, store: ObjectStore, *, upload: Received, title: str | None, owner: Caller
) -> tuple[Asset, bool]:
    """Keep a received upload as an asset of the owner's department. Returns (asset, created): the
    same bytes uploaded again in the same department give its existing asset.

    Another department's asset is never handed over (nor its id, title or file name): this
    department gets an asset of its own. The two share the stored source, which is content-addressed;
    when the other asset is ready, the new one starts ready with copies of its outputs rather than
    a second transcode (see _copy_outputs). Otherwise it is transcoded like any new asset.

    The upload is discarded either way (a spool file is deleted). Nothing is kept when the file is
    refused or storage fails.
    """
    try:
        kind = sniff(upload.head)
        if kind is None:
            raise UnsupportedMedia(
                "ingest.not_media", filename=upload.filename, looks_like=describe(upload.head)
            )
        existing = _own_asset(session, upload.sha256, owner.org_unit_id)
        if existing is not None:
            return existing, False
        key = keys.source(upload.sha256)
        stored = store.stat(key)
        if stored is None or stored.size != upload.size:  # not there yet from another department
            content_type = "application/pdf" if kind is Sniffed.PDF else "application/octet-stream"
            upload.keep(store, key, content_type)
        asset = Asset(
            id=new_id(),
            sha256=upload.sha256,
            filename=upload.filename,
            title=(title or "").strip()[:255] or PurePosixPath(upload.filename).stem,
            size_bytes=upload.size,
            source_key=key,
            org_unit_id=owner.org_unit_id,
            uploaded_by_user_id=owner.user_id,
        )
        twin = _ready_twin(session, upload.sha256)
        copied = twin is not None and _copy_outputs(store, asset, twin)
        try:
            with session.begin_nested():  # a concurrent upload of the same bytes may win the insert
                session.add(asset)
        except IntegrityError:
            if copied:
                _discard_outputs(store, asset.id)
            winner = _own_asset(session, upload.sha256, owner.org_unit_id)
            if winner is None:
                raise
            return winner, False
        reused = {"outputs_copied_from": twin.id} if copied and twin is not None else {}
        record(
            session,
            owner,
            Action.ASSET_UPLOAD,
            "asset",
            asset.id,
            in_region=department_region(session, asset.org_unit_id),
            filename=asset.filename,
            sha256=asset.sha256,
            size_bytes=asset.size_bytes,
            **reused,  # for administrators, who see every department's assets anyway
        )
        return asset, True
    finally:
        upload.discard()


def needs_processing(asset: Asset) -> bool:
    """Whether a just-registered asset still waits for the transcode job (a copy starts ready)."""
    return asset.status is AssetStatus.UPLOADED


def _own_asset(session: Session, sha256: str, org_unit_id: int | None) -> Asset | None:
    """The department's asset of these bytes (uploads without a department form one more scope)."""
    same_unit = Asset.org_unit_id.is_(None) if org_unit_id is None else Asset.org_unit_id == org_unit_id
    return session.scalar(select(Asset).where(Asset.sha256 == sha256, same_unit))


def _ready_twin(session: Session, sha256: str) -> Asset | None:
    """A published asset of the same bytes, in any department: its outputs fit a new asset too."""
    return session.scalar(
        select(Asset)
        .options(selectinload(Asset.renditions), selectinload(Asset.files))
        .where(
            Asset.sha256 == sha256,
            Asset.status == AssetStatus.READY,
            Asset.published_generation.is_not(None),
        )
        .order_by(Asset.created_at)
        .limit(1)
    )


def _copy_outputs(store: ObjectStore, asset: Asset, twin: Asset) -> bool:
    """Make the new (not yet added) `asset` ready with copies of a ready twin's published outputs
    under its own prefix and a generation of its own; False when that fails, to transcode instead.

    Copies, not shared keys or rows: each department's asset can later be processed again,
    withdrawn or cleaned up (pipeline._delete_other_generations empties its folder) without
    changing the other's playback. The store copies inside itself (S3 CopyObject, local hard links),
    so no byte passes through the API. The rows say nothing of the twin: the outputs' paths are
    relative, the master playlist is rendered from this asset's own rendition rows.
    """
    generation, twin_generation = uuid.uuid4().hex[:12], twin.published_generation
    if twin_generation is None:
        return False

    def moved(key: str) -> str:  # the twin's output -> this asset's copy of it
        return keys.generation_file(asset.id, generation, keys.generation_path(key)[1])

    copies: dict[str, str] = {}
    sizes: dict[str, int] = {}  # of each copy
    files: list[AssetFile] = []
    for f in twin.files:
        if f.path == "source":  # a document plays from the shared source itself
            files.append(AssetFile(path=f.path, size_bytes=f.size_bytes, sha256=f.sha256))
            continue
        if not f.path.startswith(f"{twin_generation}/"):
            return False  # not a layout this code wrote: leave it to the transcode
        rel = f.path.partition("/")[2]
        twin_key = keys.generation_file(twin.id, twin_generation, rel)
        copies[twin_key] = moved(twin_key)
        sizes[copies[twin_key]] = f.size_bytes
        files.append(
            AssetFile(
                path=keys.asset_path(asset.id, copies[twin_key]), size_bytes=f.size_bytes, sha256=f.sha256
            )
        )
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda pair: store.copy(*pair), copies.items()))  # list() re-raises
        prefix = keys.generation_prefix(asset.id, generation)
        stored = {info.key: info.size for info in store.list(prefix)} if copies else {}
        if any(stored.get(key) != size for key, size in sizes.items()):
            raise StorageUnavailable("ingest.copies_incomplete")
    except (StorageUnavailable, ObjectNotFound) as exc:
        log.warning(
            "asset %s: copying the outputs of %s failed (%s); transcoding instead", asset.id, twin.id, exc
        )
        _discard_outputs(store, asset.id)
        return False
    asset.files = files
    asset.renditions = [r.copy(playlist_key=moved(r.playlist_key)) for r in twin.renditions]
    asset.kind, asset.duration_seconds = twin.kind, twin.duration_seconds
    asset.source_info = dict(twin.source_info) if twin.source_info is not None else None
    asset.poster_key = moved(twin.poster_key) if twin.poster_key else None
    asset.generation = asset.published_generation = generation
    asset.status, asset.progress, asset.attempts = AssetStatus.READY, 100.0, 0
    return True


def _discard_outputs(store: ObjectStore, asset_id: str) -> None:
    """Remove copies no row will name (best effort: they are unreferenced garbage either way)."""
    try:
        store.delete_prefix(keys.asset_prefix(asset_id))
    except StorageUnavailable:
        log.warning("asset %s: could not remove copied outputs; they are unreferenced", asset_id)


def get_asset(session: Session, asset_id: str, *, caller: Caller | None = None) -> Asset:
    """An asset with its renditions; producers may only see their own department's, administrators
    their scope's departments' (another region's asset: the same 404 as none)."""
    asset = session.scalar(select(Asset).options(selectinload(Asset.renditions)).where(Asset.id == asset_id))
    if asset is None or (
        caller is not None
        and caller.role is Role.ADMIN
        and not Scope.of(caller).covers(department_region(session, asset.org_unit_id))
    ):
        raise NotFound("ingest.no_asset", asset_id=asset_id)
    if caller is not None and caller.role is not Role.SITE and not caller.can_manage(asset.org_unit_id):
        raise Forbidden("ingest.other_department")
    return asset


def list_assets(
    session: Session, *, caller: Caller, status: AssetStatus | None, limit: int, offset: int
) -> tuple[list[Asset], int]:
    query = select(Asset)
    if caller.role is not Role.ADMIN:  # producers: their own department's uploads
        query = query.where(Asset.org_unit_id == caller.org_unit_id)
    elif caller.region:  # administrators: their scope's departments' (no department: the network's)
        query = query.where(
            Asset.org_unit_id.in_(select(OrgUnit.id).where(Scope.of(caller).where(OrgUnit.region)))
        )
    if status is not None:
        query = query.where(Asset.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Asset.renditions))
        .order_by(Asset.created_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def retry_asset(session: Session, asset_id: str, *, actor: Caller) -> Asset:
    """Give a failed asset a fresh set of attempts (an administrator decided the cause is fixed)."""
    asset = get_asset(session, asset_id, caller=actor)
    if asset.status is not AssetStatus.FAILED:
        raise Conflict(
            "ingest.retry_not_failed", asset_id=asset_id, status=Text(f"ingest.status.{asset.status.value}")
        )
    asset.status = AssetStatus.UPLOADED
    asset.attempts = 0
    asset.error = asset.error_key = asset.error_params = None
    asset.progress = 0.0
    asset.lease_owner = None
    asset.lease_expires_at = None
    session.flush()
    record(
        session,
        actor,
        Action.ASSET_RETRY,
        "asset",
        asset.id,
        in_region=department_region(session, asset.org_unit_id),
    )
    return asset
