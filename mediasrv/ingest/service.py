"""Upload registration and asset queries. Services flush; the caller's unit of work commits."""

from __future__ import annotations

from pathlib import PurePosixPath

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mediasrv.accounts.models import Caller, Role
from mediasrv.audit.service import Action, record
from mediasrv.errors import Forbidden, MediaError, NotFound, UnsupportedMedia
from mediasrv.ingest.models import Asset, AssetStatus
from mediasrv.ingest.sniff import Sniffed, describe, sniff
from mediasrv.ingest.spool import SpooledUpload
from mediasrv.storage import ObjectStore, source_key

ACCEPTED = "a film (MP4, MOV, MKV, MPEG-TS, AVI...), an audio lecture (MP3, M4A, WAV...) or a PDF handout"


def register_upload(
    session: Session, store: ObjectStore, *, upload: SpooledUpload, title: str | None, owner: Caller
) -> tuple[Asset, bool]:
    """Keep a spooled upload as an asset. Returns (asset, created); the same bytes give the existing asset.

    The spool file is consumed either way. Nothing is kept when the file is refused or storage fails.
    """
    try:
        kind = sniff(upload.head)
        if kind is None:
            raise UnsupportedMedia(
                f"'{upload.filename}' is not a film, an audio recording or a PDF (it looks like "
                f"{describe(upload.head)}). Upload {ACCEPTED}."
            )
        existing = _by_sha(session, upload.sha256)
        if existing is not None:
            return existing, False
        key = source_key(upload.sha256)
        content_type = "application/pdf" if kind is Sniffed.PDF else "application/octet-stream"
        store.put_file(key, upload.path, content_type=content_type)
        asset = Asset(
            sha256=upload.sha256,
            filename=upload.filename,
            title=(title or "").strip()[:255] or PurePosixPath(upload.filename).stem,
            size_bytes=upload.size,
            source_key=key,
            org_unit_id=owner.org_unit_id,
            uploaded_by_user_id=owner.user_id,
        )
        try:
            with session.begin_nested():  # a concurrent upload of the same bytes may win the insert
                session.add(asset)
        except IntegrityError:
            winner = _by_sha(session, upload.sha256)
            if winner is None:
                raise
            return winner, False
        record(
            session,
            owner,
            Action.ASSET_UPLOAD,
            "asset",
            asset.id,
            filename=asset.filename,
            sha256=asset.sha256,
            size_bytes=asset.size_bytes,
        )
        return asset, True
    finally:
        upload.discard()


def _by_sha(session: Session, sha256: str) -> Asset | None:
    return session.scalar(select(Asset).where(Asset.sha256 == sha256))


def get_asset(session: Session, asset_id: str, *, caller: Caller | None = None) -> Asset:
    """An asset with its renditions; producers may only see their own department's."""
    asset = session.scalar(select(Asset).options(selectinload(Asset.renditions)).where(Asset.id == asset_id))
    if asset is None:
        raise NotFound(f"No asset with id {asset_id}.")
    if caller is not None and caller.role is not Role.SITE and not caller.can_manage(asset.org_unit_id):
        raise Forbidden("This asset belongs to another department.")
    return asset


def list_assets(
    session: Session, *, caller: Caller, status: AssetStatus | None, limit: int, offset: int
) -> tuple[list[Asset], int]:
    query = select(Asset)
    if caller.role is not Role.ADMIN:  # producers: their own department's uploads
        query = query.where(Asset.org_unit_id == caller.org_unit_id)
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
    asset = get_asset(session, asset_id)
    if asset.status is not AssetStatus.FAILED:
        raise MediaError(
            f"Asset {asset_id} is {asset.status.value}; only failed assets can be retried.", status_code=409
        )
    asset.status = AssetStatus.UPLOADED
    asset.attempts = 0
    asset.error = None
    asset.progress = 0.0
    asset.lease_owner = None
    asset.lease_expires_at = None
    session.flush()
    record(session, actor, Action.ASSET_RETRY, "asset", asset.id)
    return asset
