"""One sync run: fetch the signed manifest and the file lists it names, bring files/ in line with
them, then adopt it.

Order of events, chosen so that a run killed at any point leaves a consistent cache:

1. GET the manifest with If-None-Match (the applied manifest's ETag) and ?since=<applied version>;
   check its Ed25519 signature against the key pinned at init. A delta is applied to the applied
   manifest and the result must hash to the digest the delta carries, else the full one is fetched.
   A manifest of the old format (1, every file listed in it) is simply replaced by a full fetch:
   its files sit at the same paths, so they are kept, not fetched again.
2. Each file list the manifest names is read from lists/ or fetched once (it never changes), and
   its bytes must hash to the digest the signed manifest gives: both levels are verified.
3. Plan: every listed file that is missing, has the wrong size, or fails its SHA-256 check is to be
   downloaded. A file is hashed when it was never hashed at its current size and mtime (files placed
   by other means, or changed behind the agent's back), and every file is hashed with `verify`.
4. Download in priority order (programmes by rank, so required first; playlists after their
   segments) into partial/<sha256>: an existing partial is resumed with Range, its bytes hashed
   first; the finished file is checked (size, SHA-256), fsynced and renamed into files/. Bodies are
   streamed in chunks, so memory stays flat whatever the file size; the manifest's bandwidth cap is
   a token bucket on the bytes read.
5. Only when every file is in place is the new manifest adopted (manifest.json, state.json); only
   then are files it no longer lists deleted, and stale partials and file lists with them. An interrupted run
   therefore never leaves a manifest.json that claims files the cache lacks, and never deletes a file
   that the applied manifest (or the new one) still lists.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Protocol

import httpx

from mediasrv import __version__
from mediasrv.agent.layout import AgentConfig, AgentError, BadSignature, Known, Layout, verify_signature
from mediasrv.agent.outbox import mediasrv_answer, server_message
from mediasrv.agent.words import problem_of, problem_of_status
from mediasrv.protocol.china import now_in_china
from mediasrv.protocol.document import (
    FORMAT,
    LIST_PATH,
    SHA256_HEX,
    apply_delta,
    canonical,
    list_digests,
    list_files,
    ranked,
)
from mediasrv.protocol.viewing import AGENT_PRODUCT

log = logging.getLogger("mediasrv.agent")

USER_AGENT = f"{AGENT_PRODUCT}{__version__}"  # the server counts no viewing by it (protocol.viewing)
ATTEMPTS = 6  # per request; with BACKOFF doubling from 1 s that is about 30 s of waiting in all
BACKOFF = 1.0
MAX_BACKOFF = 30.0
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def client_for(config: AgentConfig, token: str) -> httpx.Client:
    """The agent's HTTP client: the site's bearer token on every request, generous read timeouts
    (a village line can stall for a while without being down). The server's refusals come in Chinese,
    the site administrator's language: a refused record shows them as they are."""
    return httpx.Client(
        base_url=config.server,
        headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT, "Accept-Language": "zh-CN"},
        timeout=httpx.Timeout(30.0, read=60.0),
    )


# --- download window ------------------------------------------------------------------------------


def parse_window(window: str | None) -> tuple[clock_time, clock_time] | None:
    """'01:00-05:00' -> (01:00, 05:00); None or '' -> no window (any time)."""
    if not window:
        return None
    m = _WINDOW.match(window.strip())
    if m is None:
        raise AgentError(f"The download window {window!r} is not like 01:00-05:00: fix it on the server.")
    start, end = clock_time(int(m[1]), int(m[2])), clock_time(int(m[3]), int(m[4]))
    if start == end:
        raise AgentError(f"The download window {window!r} is empty: fix it on the server.")
    return start, end


def in_window(window: str | None, now: datetime) -> bool:
    """Whether local time `now` falls in the window [start, end), which may wrap midnight."""
    parsed = parse_window(window)
    if parsed is None:
        return True
    start, end = parsed
    t = now.time()
    if start < end:
        return start <= t < end
    return t >= start or t < end


# --- results and progress -------------------------------------------------------------------------


@dataclass
class Failure:
    path: str
    message: str


@dataclass
class SyncResult:
    """What a run did. `version` is the applied manifest's after the run; `target_version` what the
    server asked for (they differ when the run could not finish)."""

    version: int | None = None
    target_version: int | None = None
    manifest: str = "none"  # full, delta, unchanged, or none (not fetched)
    files_fetched: int = 0
    bytes_downloaded: int = 0  # body bytes received this run
    bytes_resumed: int = 0  # bytes of partial downloads from earlier runs, kept rather than fetched again
    bytes_skipped: int = 0  # bytes already in place
    files_hashed: int = 0
    files_corrupt: int = 0  # in place with the right size but the wrong SHA-256: fetched again
    files_missing: int = 0  # still missing after the run
    bytes_missing: int = 0
    failures: list[Failure] = field(default_factory=list)
    deleted: int = 0
    deferred: bool = False  # downloads waited for the download window
    error: str | None = None  # the run stopped early: why, and what to do (English: the detail)
    problem: str | None = None  # the same as agent.words says it (what the site view shows)
    started_at: str = ""
    finished_at: str = ""

    @property
    def complete(self) -> bool:
        return self.error is None and self.files_missing == 0 and not self.failures

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


class Progress(Protocol):
    """Where a run reports its bytes (a progress bar on a terminal; nothing in the daemon)."""

    def plan(self, total: int, done: int) -> None: ...

    def advance(self, n: int) -> None: ...


class _NoProgress:
    def plan(self, total: int, done: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


class TokenBucket:
    """Caps the average read rate: each read takes tokens, refilled at `rate` bytes a second up to one
    second's worth; a read that overdraws waits until the debt is paid."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.tokens = 0.0  # start empty: no burst above the cap
        self.last = clock()

    def take(self, n: int) -> None:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate) - n
        self.last = now
        if self.tokens < 0:
            self.sleep(-self.tokens / self.rate)


class _Retry(Exception):
    """A failed attempt worth repeating; `network` when the server could not be reached or answered 5xx."""

    def __init__(self, message: str, *, network: bool, progressed: bool = False) -> None:
        super().__init__(message)
        self.network, self.progressed = network, progressed


class _FileFailed(Exception):
    """This file cannot be had now (the server refused it); the others may still be."""


class ServerUnreachable(AgentError):
    problem = "unreachable"


class Interrupted(Exception):
    """Downloads stopped on request (SIGTERM, Ctrl-C) or because the download window closed."""

    problem = "stopped"


# --- the syncer -------------------------------------------------------------------------------------


@dataclass
class Fetched:
    doc: dict[str, Any]
    etag: str | None
    kind: str  # full, delta, unchanged


class Syncer:
    """Syncs one site directory. `client` must carry the site's token (see client_for); its base URL
    is the server's."""

    def __init__(
        self,
        layout: Layout,
        client: httpx.Client,
        *,
        progress: Progress | None = None,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = now_in_china,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.layout = layout
        self.config = layout.load_config()
        self.client = client
        self.progress: Progress = progress or _NoProgress()
        self.attempts, self.backoff, self.sleep = max(1, attempts), backoff, sleep
        self.clock = clock
        self.should_stop = should_stop
        self.bucket: TokenBucket | None = None
        self.window: str | None = None
        self.respect_window = False

    # --- HTTP with retries ----------------------------------------------------------------------

    def _pause(self, attempt: int) -> None:
        delay = min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1))
        log.info("retrying in %.0f s", delay)
        while delay > 0:  # in slices, to notice a stop request
            if self.should_stop():
                raise Interrupted(self._stop_reason())
            step = min(delay, 0.5)
            self.sleep(step)
            delay -= step

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A small request (manifest, heartbeat) with retries on connection errors, 429 and 5xx."""
        attempt = 0
        while True:
            attempt += 1
            try:
                r = self.client.request(method, url, **kwargs)
                if r.status_code < 500 and r.status_code != 429:
                    return r
                problem = f"{r.status_code} {server_message(r)}"
            except httpx.TransportError as exc:
                problem = _describe(exc)
            if attempt >= self.attempts:
                raise ServerUnreachable(
                    f"{self.config.server} did not answer {method} {url} after {attempt} attempts "
                    f"(last: {problem}): check the line and that the server is up; the next sync retries."
                )
            log.warning("%s %s: %s", method, url, problem)
            self._pause(attempt)

    # --- the manifest -----------------------------------------------------------------------------

    def fetch_manifest(self) -> Fetched:
        applied = self.layout.applied()
        state = self.layout.load_state()
        url = f"/api/v1/sites/{self.config.site_id}/manifest"
        if applied is None:
            return self._fetch_full(url)
        _, old = applied
        if old.get("format") != FORMAT:  # an older format: no delta can lead from it
            return self._fetch_full(url)
        headers = {}
        if state.etag and state.version == old["version"]:
            headers["If-None-Match"] = state.etag
        r = self.request("GET", url, params={"since": old["version"]}, headers=headers)
        if r.status_code == 304:
            return Fetched(old, state.etag, "unchanged")
        body, digest = self._verified(r)
        if r.headers.get("X-Manifest-Kind") != "delta":
            return Fetched(self._checked(body, digest), r.headers.get("ETag"), "full")
        try:
            new = apply_delta(old, body)
            rebuilt = hashlib.sha256(canonical(new)).hexdigest()
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("the delta does not apply (%s): fetching the full manifest", exc)
            return self._fetch_full(url)
        if rebuilt != body.get("sha256"):
            log.warning("the manifest rebuilt from the delta does not match its digest: fetching it whole")
            return self._fetch_full(url)
        return Fetched(self._checked(new, None), r.headers.get("ETag"), "delta")

    def _fetch_full(self, url: str) -> Fetched:
        r = self.request("GET", url)
        body, digest = self._verified(r)
        return Fetched(self._checked(body, digest), r.headers.get("ETag"), "full")

    def _verified(self, r: httpx.Response) -> tuple[dict[str, Any], str]:
        if r.status_code != 200:
            raise AgentError(
                f"The server refused the manifest: {r.status_code} {server_message(r)}",
                problem=problem_of_status(r.status_code) if mediasrv_answer(r) else "not_mediasrv",
            )
        signature = r.headers.get("X-Manifest-Signature")
        if not signature:
            raise AgentError(
                "The manifest came without X-Manifest-Signature: a proxy on the way may strip headers, "
                f"or {self.config.server} is not a mediasrv server.",
                problem="not_mediasrv",
            )
        digest = verify_signature(self.config.public_key, r.content, signature)
        try:
            body: dict[str, Any] = json.loads(r.content)
        except ValueError as exc:
            raise AgentError(
                f"The signed manifest is not JSON ({exc}): report this to the server team."
            ) from None
        return body, digest

    def _checked(self, doc: dict[str, Any], digest: str | None) -> dict[str, Any]:
        """A manifest fit to act on: for this site, a format this agent knows, and (when `digest` is
        given) canonical, so that manifest.json keeps exactly the bytes the server signed."""
        if doc.get("format") != FORMAT:
            raise AgentError(
                f"The manifest has format {doc.get('format')}, this agent ({__version__}) knows {FORMAT}: "
                "upgrade mediasrv-site.",
                problem="upgrade",
            )
        if doc.get("site", {}).get("id") != self.config.site_id:
            raise AgentError(
                f"The manifest is for site {doc.get('site', {}).get('id')}, this directory is site "
                f"{self.config.site_id}: check the token and run `mediasrv-site init` again."
            )
        if digest is not None and hashlib.sha256(canonical(doc)).hexdigest() != digest:
            raise AgentError("The signed manifest is not in canonical form: report this to the server team.")
        for programme in doc["programmes"]:
            for item in programme["lists"]:
                if not isinstance(item["sha256"], str) or not SHA256_HEX.fullmatch(item["sha256"]):
                    raise AgentError(f"Refusing the file list digest {item['sha256']!r}.")
                if item["url"] != LIST_PATH + item["sha256"]:
                    raise AgentError(
                        f"Refusing the file list URL {item['url']!r}: it must be {LIST_PATH}<sha256>."
                    )
        return doc

    def fetch_lists(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        """The files the manifest asks for: each file list it names, read from lists/ or fetched
        (once: it never changes) and checked against the digest the signed manifest gives."""
        urls = {i["sha256"]: i["url"] for p in doc["programmes"] for i in p["lists"]}
        files: dict[str, dict[str, Any]] = {}
        for sha in list_digests(doc):
            found = self.layout.load_list(sha)
            raw = None
            if found is None:
                r = self.request("GET", urls[sha])
                if r.status_code != 200:
                    raise AgentError(
                        f"The server refused the file list {sha}: {r.status_code} {server_message(r)}",
                        problem=problem_of_status(r.status_code) if mediasrv_answer(r) else "not_mediasrv",
                    )
                if hashlib.sha256(r.content).hexdigest() != sha:
                    raise BadSignature(
                        f"The file list {urls[sha]} does not match the digest the signed manifest gives: "
                        "it was altered on the way; the next sync fetches it again."
                    )
                try:
                    found = json.loads(r.content)
                except ValueError:
                    raise AgentError(
                        f"The file list {sha} is not JSON: report this to the server team."
                    ) from None
                raw = r.content
            try:
                entries = list_files(found)
            except (KeyError, TypeError):
                raise AgentError(f"{urls[sha]} is not a file list: report this to the server team.") from None
            self._check_entries(entries)  # before it is kept: nothing on disk names a path outside
            if raw is not None:
                self.layout.save_list(sha, raw)
            for entry in entries:
                files.setdefault(entry["path"], entry)
        return [files[p] for p in sorted(files)]

    def _check_entries(self, entries: list[dict[str, Any]]) -> None:
        """Signed lists are still checked: a tampered one must not reach outside the cache or the server."""
        for entry in entries:
            where = self.layout.file(entry["path"])
            if where.relative_to(self.layout.files).as_posix() != entry["path"]:  # 'a//b', './a'
                raise AgentError(f"Refusing the manifest path {entry['path']!r}: it is not in normal form.")
            self.layout.partial_for(entry["sha256"])
            url = entry["url"]
            if not isinstance(url, str) or not url.startswith("/") or url.startswith("//") or ".." in url:
                raise AgentError(f"Refusing the manifest URL {url!r}: only paths on the server are allowed.")
            if not isinstance(entry["size"], int) or entry["size"] < 0:
                raise AgentError(f"Refusing the size {entry['size']!r} of {entry['path']!r}.")

    # --- a whole run ------------------------------------------------------------------------------

    def sync(self, *, verify: bool = False, download: bool | None = None) -> SyncResult:
        """One run. `download`: True downloads whatever the time, False never, None (the daemon) only
        inside the manifest's download window. Network trouble and refused manifests end in
        `result.error`; only a missing set-up raises."""
        result = SyncResult(started_at=_stamp())
        applied = self.layout.applied()
        result.version = applied[1]["version"] if applied else None
        self.layout.ensure()
        target: dict[str, Any] | None = applied[1] if applied else None
        try:
            fetched = self.fetch_manifest()
            target = fetched.doc
            files = self.fetch_lists(target)
            result.manifest = fetched.kind
            result.target_version = target["version"]
            site = target["site"]
            kbps = site.get("bandwidth_kbps")
            self.bucket = TokenBucket(kbps * 1000 / 8) if kbps else None
            self.window = site.get("download_window")
            allowed = download if download is not None else in_window(self.window, self.clock())
            self.respect_window = download is None
            self._bring_in_line(target, files, fetched, result, verify=verify, allowed=allowed)
        except (AgentError, Interrupted) as exc:
            result.error, result.problem = str(exc), problem_of(exc)
            log.warning("%s", exc)
            if target is not None:
                self._count_missing(self.layout.files_of(target), result)
        result.finished_at = _stamp()
        state = self.layout.load_state()
        state.last_sync = result.to_json()
        if result.complete:  # kept apart: a failed run after it must not hide when the site was last whole
            state.last_complete = result.finished_at
        self.layout.save_state(state)
        return result

    def _bring_in_line(
        self,
        target: dict[str, Any],
        files: list[dict[str, Any]],
        fetched: Fetched,
        result: SyncResult,
        *,
        verify: bool,
        allowed: bool,
    ) -> None:
        known = self.layout.known()
        todo = self._plan(target, files, known, result, verify=verify)
        if todo and not allowed:
            result.deferred = True
            log.info("%d files wait for the download window %s", len(todo), self.window)
        elif todo:
            self._download_all(todo, result)
        self._count_missing(todo, result)
        if result.files_missing or result.failures:
            return
        if fetched.kind != "unchanged":
            self.layout.adopt(target)
            state = self.layout.load_state()
            state.etag, state.version = fetched.etag, target["version"]
            self.layout.save_state(state)
        result.version = target["version"]
        result.deleted = self._delete_unlisted(files)
        self._clean_partials(files)
        self.layout.clean_lists(set(list_digests(target)))
        if fetched.kind != "unchanged" or result.files_hashed or result.files_fetched or result.deleted:
            wanted = {e["path"] for e in files}
            self.layout.compact_verified({p: k for p, k in self.layout.known().items() if p in wanted})

    def _plan(
        self,
        doc: dict[str, Any],
        files: list[dict[str, Any]],
        known: dict[str, Known],
        result: SyncResult,
        *,
        verify: bool,
    ) -> list[dict[str, Any]]:
        """The files to download, in priority order; hashes files not known good (all with verify)."""
        todo = []
        for entry in download_order(doc, files):
            path = self.layout.file(entry["path"])
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                todo.append(entry)
                continue
            if size != entry["size"]:
                todo.append(entry)
                continue
            if verify or not self.layout.is_known_good(entry["path"], entry["sha256"], known):
                result.files_hashed += 1
                if _sha256_of(path) != entry["sha256"]:
                    log.warning(
                        "%s is damaged (its SHA-256 does not match): fetching it again", entry["path"]
                    )
                    result.files_corrupt += 1
                    path.unlink()
                    todo.append(entry)
                    continue
                self.layout.record_verified(entry["path"], entry["sha256"])
            result.bytes_skipped += entry["size"]
        return todo

    def _count_missing(self, entries: list[dict[str, Any]], result: SyncResult) -> None:
        """Files of `entries` not in place (by size: cheap enough after a failed run)."""
        missing = [e for e in entries if not _has_size(self.layout, e)]
        result.files_missing = len(missing)
        result.bytes_missing = sum(e["size"] for e in missing)

    def _download_all(self, todo: list[dict[str, Any]], result: SyncResult) -> None:
        resumable = 0
        for entry in todo:
            part = self.layout.partial_for(entry["sha256"])
            with contextlib.suppress(FileNotFoundError):
                resumable += min(part.stat().st_size, entry["size"])
        self.progress.plan(sum(e["size"] for e in todo), resumable)
        for entry in todo:
            if self._stopping():
                raise Interrupted(self._stop_reason())
            try:
                self._fetch_file(entry, result)
                result.files_fetched += 1
            except _FileFailed as exc:
                log.warning("%s: %s", entry["path"], exc)
                result.failures.append(Failure(entry["path"], str(exc)))

    def _stopping(self) -> bool:
        return self.should_stop() or (self.respect_window and not in_window(self.window, self.clock()))

    def _stop_reason(self) -> str:
        if self.should_stop():
            return "Stopped on request; partial downloads are kept and resume next time."
        return f"The download window {self.window} closed; partial downloads resume in the next window."

    # --- one file -----------------------------------------------------------------------------------

    def _fetch_file(self, entry: dict[str, Any], result: SyncResult) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                self._download(entry, result)
                return
            except _Retry as exc:
                if exc.progressed:
                    attempt = 1  # a line that drops now and then still gets the file in the end
                if attempt >= self.attempts:
                    if exc.network:
                        raise ServerUnreachable(
                            f"{self.config.server} stopped answering while downloading {entry['path']} "
                            f"({exc}); what arrived is kept and the next sync resumes it."
                        ) from None
                    raise _FileFailed(f"{exc} ({attempt} attempts)") from None
                log.warning("%s: %s", entry["path"], exc)
                self._pause(attempt)

    def _download(self, entry: dict[str, Any], result: SyncResult) -> None:
        """One attempt: resume or start the partial, stream the rest, check it, move it into place."""
        size, sha = entry["size"], entry["sha256"]
        part = self.layout.partial_for(sha)
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        digest = hashlib.sha256()
        if have:
            _hash_into(digest, part)
        if have == size:  # finished before an interruption, or by a download of the same content
            result.bytes_resumed += have
            self._finish(entry, part, digest.hexdigest())
            return
        headers = {"Accept-Encoding": "identity"}  # bytes as stored: sizes and Range offsets agree
        if have:
            headers["Range"] = f"bytes={have}-"
        received = 0
        try:
            with self.client.stream("GET", entry["url"], headers=headers) as r:
                if r.status_code == 416:  # the server's copy is shorter than the partial: start over
                    part.unlink()
                    raise _Retry("the partial download was longer than the server's file", network=False)
                if r.status_code >= 500 or r.status_code == 429:
                    raise _Retry(f"{r.status_code} from the server", network=True)
                if r.status_code not in (200, 206):
                    r.read()
                    raise _FileFailed(f"the server answered {r.status_code} {server_message(r)}")
                if r.status_code == 206:
                    m = _CONTENT_RANGE.match(r.headers.get("Content-Range", ""))
                    if m is None or int(m[1]) != have:
                        part.unlink()
                        raise _Retry("the server resumed at another offset", network=False)
                    result.bytes_resumed += have
                    mode = "ab"
                else:  # 200: the whole body (the server ignored the Range, or nothing to resume)
                    if have:
                        self.progress.advance(-have)
                    have, digest, mode = 0, hashlib.sha256(), "wb"
                with part.open(mode, buffering=0) as out:  # unbuffered: a kill loses nothing written
                    # As the network delivers (at most 64 KiB a read): no rebuffering, so a break
                    # mid-transfer loses nothing that arrived.
                    for chunk in r.iter_bytes():
                        if have + received + len(chunk) > size:
                            raise _Retry(f"the server sent more than the {size} bytes listed", network=False)
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        result.bytes_downloaded += len(chunk)
                        self.progress.advance(len(chunk))
                        if self.bucket is not None:
                            self.bucket.take(len(chunk))
                        if self._stopping():
                            raise Interrupted(self._stop_reason())
                    os.fsync(out.fileno())
        except httpx.TransportError as exc:
            raise _Retry(_describe(exc), network=True, progressed=received > 0) from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise AgentError(
                    f"The disk of {self.layout.root} is full: free space, or lower the site's quota.",
                    problem="disk_full",
                ) from None
            raise
        if have + received != size:
            raise _Retry(
                f"the body ended after {have + received} of {size} bytes",
                network=True,
                progressed=received > 0,
            )
        self._finish(entry, part, digest.hexdigest())

    def _finish(self, entry: dict[str, Any], part: Path, digest: str) -> None:
        if digest != entry["sha256"]:
            part.unlink()
            raise _Retry(
                "the downloaded file's SHA-256 does not match the manifest (damaged on the way, or the "
                "server's copy is damaged)",
                network=False,
            )
        target = self.layout.file(entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        part.replace(target)
        _fsync_dir(target.parent)
        self.layout.record_verified(entry["path"], digest)

    # --- after adopting -----------------------------------------------------------------------------

    def _delete_unlisted(self, files: list[dict[str, Any]]) -> int:
        """Delete what files/ holds beyond `files` (the manifest just adopted, so nothing it lists)."""
        wanted = {e["path"] for e in files}
        deleted = 0
        for folder, dirs, names in os.walk(self.layout.files, topdown=False):
            here = Path(folder)
            for name in names:
                rel = here.joinpath(name).relative_to(self.layout.files).as_posix()
                if rel not in wanted:
                    here.joinpath(name).unlink()
                    deleted += 1
            for name in dirs:
                with contextlib.suppress(OSError):  # not empty: keep it
                    here.joinpath(name).rmdir()
        return deleted

    def _clean_partials(self, files: list[dict[str, Any]]) -> None:
        wanted = {e["sha256"] for e in files}
        for part in self.layout.partial.iterdir():
            if part.name not in wanted:
                part.unlink()


def download_order(doc: dict[str, Any], files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifest's files (`files`, from its lists) by priority: each programme's files in rank
    order (required programmes come first), its handouts after it, then anything left by path. Within
    an asset the playlists come after the segments, so a presentation is playable from the cache only
    once it is whole."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in files:
        groups.setdefault(entry["path"].split("/", 1)[0], []).append(entry)
    order: list[str] = []
    for programme in ranked(doc):
        assets = [programme.get("asset_id") or ""]
        assets += [a.split("/", 1)[0] for a in programme.get("attachments") or []]
        order += [a for a in assets if a in groups and a not in order]
    order += sorted(a for a in groups if a not in order)
    return [
        e for a in order for e in sorted(groups[a], key=lambda e: (e["path"].endswith(".m3u8"), e["path"]))
    ]


def _has_size(layout: Layout, entry: dict[str, Any]) -> bool:
    try:
        return bool(layout.file(entry["path"]).stat().st_size == entry["size"])
    except (FileNotFoundError, AgentError):
        return False


def _hash_into(digest: Any, path: Path) -> None:
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    _hash_into(digest, path)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stamp() -> str:
    return now_in_china().isoformat(timespec="seconds")


def _describe(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
