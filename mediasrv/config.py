"""Settings, read from MEDIASRV_* environment variables. Nothing here touches disk or network at import."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mediasrv.kit.errors import MediaError

GIB = 1024**3
# The parts of the site assessment (mediasrv.study.assessment), as MEDIASRV_ASSESSMENT_WEIGHTS names them.
ASSESSMENT_PARTS = ("reachability", "sync", "study", "feedback")


def weights_of(text: str) -> dict[str, float]:
    """'reachability=30,sync=20,study=40,feedback=10' -> shares summing to 1. Parsed here, with the
    setting, so that a typo refuses to start and the settings need no study code to say so."""
    found: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = item.partition("=")
        if name.strip() not in ASSESSMENT_PARTS:
            raise MediaError("kit.weights_unknown_part", part=name.strip(), parts=", ".join(ASSESSMENT_PARTS))
        try:
            found[name.strip()] = float(value)
        except ValueError:
            raise MediaError("kit.weights_not_a_number", part=name.strip(), value=value) from None
    total = sum(found.get(p, 0.0) for p in ASSESSMENT_PARTS)
    if total <= 0 or any(v < 0 for v in found.values()):
        raise MediaError("kit.weights_all_zero")
    return {p: found.get(p, 0.0) / total for p in ASSESSMENT_PARTS}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDIASRV_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Working data: SQLite files, spool, work dirs")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; default sqlite:///<data_dir>/mediasrv.db"
    )
    storage_url: str = Field(
        default="",
        description="file:///dir, or s3://KEY:SECRET@host:port/bucket?secure=false; default file://<data_dir>/objects",
    )
    broker_url: str = Field(
        default="", description="Celery broker; default kombu SQLAlchemy transport on SQLite"
    )

    max_upload_bytes: int = Field(default=20 * GIB, description="Largest accepted upload")
    upload_part_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=5 * 1024 * 1024,  # S3's smallest part
        description="Resumable uploads go to object storage in parts of this size (each PATCH holds "
        "at most about two in memory); larger for files that would need over 10,000",
    )
    x264_preset: str = Field(default="veryfast", description="x264 preset for every rendition")
    transcode_stall_seconds: float = Field(
        default=120.0, description="Kill ffmpeg when progress stalls this long"
    )
    transcode_time_limit_seconds: int = Field(
        default=6 * 3600, description="Soft time limit of one transcode"
    )
    lease_seconds: float = Field(
        default=300.0, description="A job lease; renewed while ffmpeg makes progress"
    )
    sweep_interval_seconds: float = Field(
        default=60.0, description="How often expired leases are re-enqueued"
    )
    max_attempts: int = Field(default=3, description="Transcode attempts before an asset is marked failed")
    retired_grace_seconds: float = Field(
        default=6 * 3600.0,
        ge=0,
        description="How long superseded outputs (a previous generation, subtitle set or dub file) are kept "
        "for players still reading them: longer than a film plus a player's playlist cache",
    )
    chunk_threshold_seconds: float = Field(
        default=20 * 60.0,
        ge=0,
        description="Films longer than this are transcoded in chunks by several workers at once",
    )
    chunk_seconds: float = Field(
        default=300.0,
        ge=6,
        description="Length of one chunk of a long film (rounded down to whole 6 s HLS segments)",
    )

    secret_key: SecretStr | None = Field(
        default=None,
        description="HMAC key of signed links and manifests; default: generated once, kept in the database",
    )
    signed_url_seconds: int = Field(default=6 * 3600, description="Lifetime of signed playback links")
    session_hours: float = Field(default=12.0, description="Lifetime of a web login")
    cookie_secure: bool = Field(
        default=True, description="Session cookie only over HTTPS (browsers exempt localhost)"
    )

    online_window_seconds: int = Field(
        default=900, ge=1, description="A site is online when its last heartbeat is at most this old"
    )

    fault_silent_hours: int = Field(
        default=24, ge=1, description="A site silent longer than this has a fault (a region may set its own)"
    )
    fault_escalate_hours: int = Field(
        default=72,
        ge=1,
        description="A fault open longer than this goes to the level above (a region may set its own)",
    )
    fault_sync_days: int = Field(
        default=3, ge=1, description="A site whose cache stayed incomplete this many days has a fault"
    )
    fault_disk_free_bytes: int = Field(
        default=2 * GIB, ge=0, description="A site reporting less free disk than this has a fault"
    )
    fault_idle_days: int = Field(
        default=30, ge=1, description="A site with required lists yet nothing played this long has a fault"
    )
    agent_min_version: str = Field(
        default="", description="Oldest supported site agent (e.g. 0.1.0); older ones are faults; empty: any"
    )
    fault_sweep_interval_seconds: float = Field(
        default=600.0, gt=0, description="How often faults are looked for"
    )
    fault_digest_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often each region's contacts get one digest of new faults"
    )
    fault_webhook_internal: bool = Field(
        default=False,
        description="Let fault webhooks reach loopback, private and link-local hosts (an intranet robot)",
    )
    smtp_host: str = Field(default="", description="Mail server for fault digests; empty: emails wait")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Its port (587 STARTTLS, 465 TLS)")
    smtp_user: str = Field(default="", description="Its login, if it asks for one")
    smtp_password: SecretStr | None = Field(default=None, description="Its password")
    smtp_from: str = Field(default="", description="The sender address of fault digests")
    smtp_secure: str = Field(default="no", pattern="^(no|starttls|ssl)$", description="no, starttls or ssl")

    study_sessions_per_month: int = Field(
        default=4, ge=0, description="The monthly study task: sessions a site holds (每月4次)"
    )
    study_class_hours_per_month: float = Field(
        default=8.0, ge=0, description="The monthly study task: class hours (每月8课时)"
    )
    class_hour_minutes: int = Field(default=45, ge=1, le=240, description="Minutes in one class hour (课时)")
    assessment_weights: str = Field(
        default="reachability=30,sync=20,study=40,feedback=10",
        description="Weights of the site assessment's parts (normalised to sum 1)",
    )
    feedback_target: int = Field(
        default=1, ge=1, description="Ratings and topic requests a month that earn a site full feedback marks"
    )
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="Largest session photo accepted")

    @field_validator("assessment_weights")
    @classmethod
    def _weights_parse(cls, text: str) -> str:
        """A typo refuses to start, rather than failing every assessment later."""
        try:
            weights_of(text)
        except MediaError as exc:  # the key goes on: the command line renders it in the operator's language
            raise PydanticCustomError(exc.key, exc.message, exc.params) from None
        return text

    @property
    def assessment_shares(self) -> dict[str, float]:
        """The assessment's weights as shares of the score, by part."""
        return weights_of(self.assessment_weights)

    log_json: bool = Field(
        default=False, description="Log one JSON object per line (for log collectors) instead of text"
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a token, for a scraper on a private network; default: admins",
    )

    host: str = "127.0.0.1"
    port: int = 8000

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'mediasrv.db'}"

    @cached_property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{self.data_dir.resolve() / 'objects'}"

    @cached_property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir.resolve() / 'broker.db'}"

    @property
    def spool_dir(self) -> Path:
        """Where uploads are spooled (and hashed) before they go to object storage."""
        return self.data_dir / "spool"

    @property
    def index_dir(self) -> Path:
        """The Whoosh search index: one volume, written only by the index queue's worker."""
        return self.data_dir / "index"

    @property
    def work_dir(self) -> Path:
        """Scratch space of transcode jobs."""
        return self.data_dir / "work"
