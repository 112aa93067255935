"""A site's cache directory, and the few things every part of the agent reads from it.

<dir>/agent.json        server URL, site id, the pinned manifest key, poll interval (no secret)
<dir>/token             the site's bearer token (mode 0600)
<dir>/files/<path>      the files of the applied manifest at their manifest paths: a tree that
                        plays by itself (relative URIs in its playlists resolve inside it)
<dir>/manifest.json     the applied manifest: its exact canonical bytes, whose SHA-256 was
                        signed by the server (or checked after rebuilding it from a delta)
<dir>/partial/<sha256>  downloads in progress, named by the content they must end up as, so an
                        interrupted download resumes with Range whatever path wants it
<dir>/reports.jsonl     heartbeats not yet delivered (the offline queue)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, Field

from mediasrv.delivery.manifest import SIGNATURE_CONTEXT, canonical


class AgentError(Exception):
    """Something the site administrator must act on; the message says what."""


class AgentConfig(BaseModel):
    server: str = Field(description="the mediasrv URL, e.g. https://edu.example.cn")
    site_id: int
    site_code: str
    public_key: str = Field(description="base64 Ed25519 key manifests must be signed with (pinned at init)")
    interval_seconds: int = Field(default=300, ge=10, description="how often the daemon polls")


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "agent.json"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def partial(self) -> Path:
        return self.root / "partial"

    @property
    def reports(self) -> Path:
        return self.root / "reports.jsonl"

    def ensure(self) -> None:
        for folder in (self.root, self.files, self.partial):
            folder.mkdir(parents=True, exist_ok=True)

    def file(self, path: str) -> Path:
        """Where a manifest path lives; refuses paths that would leave files/ (a tampered manifest)."""
        rel = PurePosixPath(path)
        if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts) or "\\" in path:
            raise AgentError(f"Refusing the manifest path {path!r}: it is not a plain relative path.")
        return self.files.joinpath(*rel.parts)

    def load_config(self) -> AgentConfig:
        try:
            return AgentConfig.model_validate_json(self.config.read_bytes())
        except FileNotFoundError:
            raise AgentError(
                f"{self.root} is not set up: run "
                f"`mediasrv-site init --server URL --token T --dir {self.root}`."
            ) from None

    def save_config(self, config: AgentConfig) -> None:
        write_atomic(self.config, config.model_dump_json(indent=2).encode())

    def load_token(self) -> str:
        try:
            return self.token.read_text().strip()
        except FileNotFoundError:
            raise AgentError(f"No token in {self.token}: run `mediasrv-site init` again.") from None

    def save_token(self, token: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token.strip() + "\n")

    def applied(self) -> tuple[bytes, dict[str, Any]] | None:
        """The applied manifest (bytes and parsed), or None on a fresh site."""
        try:
            raw = self.manifest.read_bytes()
        except FileNotFoundError:
            return None
        return raw, json.loads(raw)

    def adopt(self, doc: dict[str, Any]) -> bytes:
        """Make `doc` the applied manifest (its canonical bytes); returns them."""
        raw = canonical(doc)
        write_atomic(self.manifest, raw)
        return raw


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def verify_signature(public_key: str, body: bytes, signature: str) -> str:
    """Check a manifest or delta body against its X-Manifest-Signature; its hex SHA-256."""
    digest = hashlib.sha256(body).hexdigest()
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        key.verify(base64.b64decode(signature), SIGNATURE_CONTEXT + digest.encode())
    except (InvalidSignature, ValueError) as exc:
        raise AgentError(
            "The manifest's signature does not match the pinned server key: it was altered on the way, "
            "or the server's MEDIASRV_SECRET_KEY changed (then run `mediasrv-site init` again)."
        ) from exc
    return digest
