"""A site's cache directory, and the few things every part of the agent reads from it.

<dir>/agent.json        server URL, site id, the pinned manifest key, poll interval (no secret)
<dir>/token             the site's bearer token (mode 0600)
<dir>/files/<path>      the files of the applied manifest at their manifest paths: a tree that
                        plays by itself (relative URIs in its playlists resolve inside it)
<dir>/manifest.json     the applied manifest: its exact canonical bytes, whose SHA-256 was
                        signed by the server (or checked after rebuilding it from a delta). Format 2
                        names file lists by SHA-256; format 1 (older servers) listed every file
<dir>/lists/<sha256>.json  the file lists manifests name, their exact bytes, fetched once each
                        (immutable): what files/ holds is the union of the applied manifest's lists
<dir>/partial/<sha256>  downloads in progress, named by the content they must end up as, so an
                        interrupted download resumes with Range whatever path wants it
<dir>/heartbeats/       the outbox of heartbeats not yet delivered, a file per report (agent.reports)
<dir>/viewing.jsonl     viewing evidence counted by the LAN origin; viewing/ its outbox (agent.viewing)
<dir>/records/<id>.json study records made on the site view (sessions, ratings, topic requests),
                        kept until delivered and shown after; records/photos/ their photos (without
                        metadata) until delivered (agent.records)
<dir>/faults/<id>.json  faults reported on the site view (报告故障), kept until delivered and shown
                        after (agent.faults); faults-centre.json what the centre last said of them
<dir>/<outbox>-delivery.json  the last delivery run of each outbox: when, and why it stopped
                        (agent.outbox, the one mechanism of the three). An agent from before it kept
                        reports.jsonl and viewing-outbox.jsonl: adopted into the outboxes, then removed
<dir>/vendor/hls.min.js the site view's player, fetched from the server when the package lacks it
<dir>/state.json        the applied manifest's ETag and version, and the last sync's result
<dir>/verified.jsonl    files known good: path, size, mtime and SHA-256 when last hashed; a file
                        whose size and mtime still match is not hashed again (sync --verify does)
<dir>/.lock             held while a sync runs, so a daemon and a hand-run sync never interleave
Files the agent writes are 0600, its folders 0700 (write_atomic).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, Field

from mediasrv.agent.words import Lang, line
from mediasrv.protocol.document import SHA256_HEX, SIGNATURE_CONTEXT, canonical, list_digests, site_files


class AgentError(Exception):
    """Something the site administrator must act on; the message says what (in English, for the log
    and the 详情 line), `problem` what the site view and the command line say (agent.words). Raised
    with a `key` of agent.words' LINES (and its params), the message is that line's English and the
    command line says it in the operator's language (`said`)."""

    problem = "other"

    def __init__(
        self,
        message: str | None = None,
        *,
        problem: str | None = None,
        key: str | None = None,
        **params: object,
    ) -> None:
        self.key, self.params = key, params
        super().__init__(message if message is not None or key is None else line(key, "en", **params))
        if problem is not None:
            self.problem = problem

    def said(self, lang: Lang) -> str:
        """What the command line prints: the key's line in `lang`, else the English message."""
        return line(self.key, lang, **self.params) if self.key else str(self)


class BadSignature(AgentError):
    problem = "signature"


class AgentConfig(BaseModel):
    server: str = Field(description="the mediasrv URL, e.g. https://edu.example.cn")
    site_id: int
    site_code: str
    public_key: str = Field(description="base64 Ed25519 key manifests must be signed with (pinned at init)")
    interval_seconds: int = Field(default=300, ge=10, description="how often the daemon polls")


class AgentState(BaseModel):
    """What the agent remembers between runs besides the manifest itself."""

    etag: str | None = Field(default=None, description="ETag of the applied manifest, for If-None-Match")
    version: int | None = Field(default=None, description="the version that ETag belongs to")
    last_sync: dict[str, Any] | None = Field(default=None, description="the last sync's result")
    last_complete: str | None = Field(
        default=None, description="when a sync last ended with every file in place (the site view shows it)"
    )


@dataclass(frozen=True)
class Known:
    """A file as it was when the agent last hashed it."""

    size: int
    mtime_ns: int
    sha256: str


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
    def lists(self) -> Path:
        return self.root / "lists"

    @property
    def reports(self) -> Path:
        """The heartbeat queue of agents before the outbox folders (agent.reports adopts it)."""
        return self.root / "reports.jsonl"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def verified(self) -> Path:
        return self.root / "verified.jsonl"

    def partial_for(self, sha256: str) -> Path:
        """Where a download of this content goes; refuses anything but a hex SHA-256 (a tampered
        manifest must not name a path outside partial/)."""
        if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
            raise AgentError(f"Refusing the SHA-256 {sha256!r}: it is not 64 lowercase hex digits.")
        return self.partial / sha256

    def ensure(self) -> None:
        for folder in (self.root, self.files, self.partial, self.lists):
            folder.mkdir(parents=True, exist_ok=True)

    # --- file lists -----------------------------------------------------------------------------

    def list_file(self, sha256: str) -> Path:
        """Where a file list is kept; refuses anything but a hex SHA-256 (as partial_for)."""
        if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
            raise AgentError(f"Refusing the file list digest {sha256!r}: it is not 64 lowercase hex digits.")
        return self.lists / f"{sha256}.json"

    def load_list(self, sha256: str) -> dict[str, Any] | None:
        """A kept file list, parsed; None when it is missing or its bytes no longer hash to its name."""
        try:
            raw = self.list_file(sha256).read_bytes()
        except FileNotFoundError:
            return None
        if hashlib.sha256(raw).hexdigest() != sha256:
            return None
        try:
            found: dict[str, Any] = json.loads(raw)
        except ValueError:
            return None
        return found

    def save_list(self, sha256: str, raw: bytes) -> None:
        """Keep a file list whose bytes were checked against `sha256`."""
        write_atomic(self.list_file(sha256), raw)

    def files_of(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        """Every file a manifest asks for, by path ({path, sha256, size, url}): through its kept file
        lists (format 2; a list not kept contributes nothing), or its own `files` (format 1)."""
        lists = {sha: found for sha in list_digests(doc) if (found := self.load_list(sha)) is not None}
        return site_files(doc, lists)

    def clean_lists(self, keep: set[str]) -> None:
        """Delete kept file lists that the applied manifest no longer names."""
        with contextlib.suppress(FileNotFoundError):
            for kept in self.lists.iterdir():
                if kept.name.removesuffix(".json") not in keep:
                    kept.unlink()

    def file(self, path: str) -> Path:
        """Where a manifest path lives; refuses paths that would leave files/ (a tampered manifest)."""
        rel = PurePosixPath(path)
        if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts) or "\\" in path:
            raise AgentError(f"Refusing the manifest path {path!r}: it is not a plain relative path.")
        return self.files.joinpath(*rel.parts)

    def load_config(self) -> AgentConfig:
        try:
            return AgentConfig.model_validate_json(self.config.read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            raise AgentError(key="not_set_up", dir=self.root) from None
        except ValueError:  # not JSON, or not an agent's config (pydantic's ValidationError)
            raise AgentError(key="config_damaged", path=self.config, dir=self.root) from None

    def save_config(self, config: AgentConfig) -> None:
        write_atomic(self.config, config.model_dump_json(indent=2).encode())

    def load_token(self) -> str:
        try:
            return self.token.read_text().strip()
        except FileNotFoundError:
            raise AgentError(key="no_token", path=self.token) from None

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

    def load_state(self) -> AgentState:
        try:
            return AgentState.model_validate_json(self.state_file.read_bytes())
        except FileNotFoundError:
            return AgentState()
        except ValueError:
            return AgentState()  # unreadable: only costs a full manifest fetch

    def save_state(self, state: AgentState) -> None:
        write_atomic(self.state_file, state.model_dump_json(indent=2).encode())

    # --- files known good ---------------------------------------------------------------------

    def known(self) -> dict[str, Known]:
        """Files as last hashed, by manifest path (the last line about a path wins)."""
        found: dict[str, Known] = {}
        try:
            with self.verified.open("rb") as f:
                for line in f:
                    try:
                        path, size, mtime_ns, sha = json.loads(line)
                        found[path] = Known(int(size), int(mtime_ns), str(sha))
                    except (ValueError, TypeError):
                        continue  # a line torn by a crash: that file is hashed again, no harm
        except FileNotFoundError:
            pass
        return found

    def record_verified(self, path: str, sha256: str) -> None:
        """Note that the file at manifest path `path` was just hashed and is `sha256` (size and mtime
        from the disk). Appends; `compact_verified` rewrites the file at the end of a sync."""
        st = self.file(path).stat()
        with self.verified.open("ab") as f:
            f.write(canonical([path, st.st_size, st.st_mtime_ns, sha256]) + b"\n")

    def compact_verified(self, keep: dict[str, Known]) -> None:
        lines = (canonical([p, k.size, k.mtime_ns, k.sha256]) + b"\n" for p, k in sorted(keep.items()))
        write_atomic(self.verified, b"".join(lines))

    def is_known_good(self, path: str, sha256: str, known: dict[str, Known]) -> bool:
        """The file at `path` is unchanged since it was hashed as `sha256` (same size and mtime)."""
        entry = known.get(path)
        if entry is None or entry.sha256 != sha256:
            return False
        try:
            st = self.file(path).stat()
        except FileNotFoundError:
            return False
        return st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's sync lock, or fail at once saying who holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise AgentError(key="busy", dir=self.root, holder=holder) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, rename: readers see old or new, never half.
    The file is the agent's user's alone (0600, its folder 0700 when made here): study records,
    photos and the agent's state are nobody else's on a shared village PC."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a temporary file left by a crash keeps its old mode otherwise
    with os.fdopen(fd, "wb") as f:
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
        raise BadSignature(
            "The manifest's signature does not match the pinned server key: it was altered on the way, "
            "or the server's MEDIASRV_SECRET_KEY changed (then run `mediasrv-site init` again)."
        ) from exc
    return digest
