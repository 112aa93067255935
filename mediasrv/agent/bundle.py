"""`mediasrv-site import DIR`: adopt an offline bundle (see mediasrv/delivery/bundle.py) carried to a
site with no usable line, after checking its signature and every file.

Trust: the signature is checked with the key this site pinned (agent.json). A site that was never
online has none, so the administrator passes it with --public-key (printed by the export, and shown
at GET /api/v1/sites/manifest-key); the key.pub inside the bundle is never trusted on its own, since
whoever could alter the disk could alter it too. Such a site gets a minimal agent.json with an empty
`server`, which `mediasrv-site init --server URL --token T` fills in once the site has a line.

All or nothing: every file is verified (size and SHA-256, streamed) into partial/ first; only when
all are right are they renamed into files/, the manifest adopted and unlisted files removed. Each
rename is atomic, so `mediasrv-site serve` keeps serving throughout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from mediasrv.agent.layout import AgentConfig, AgentError, Layout, verify_signature
from mediasrv.protocol.document import BUNDLE_PUBLIC_KEY as PUBLIC_KEY
from mediasrv.protocol.document import BUNDLE_SIGNATURE as SIGNATURE
from mediasrv.protocol.document import FORMAT, canonical
from mediasrv.protocol.hashing import CHUNK, file_sha256
from mediasrv.protocol.sizes import human_size

NOT_CONNECTED = ""  # agent.json's server on a site set up from a bundle: no server known yet
_LISTED = 20  # problems named in a refusal; the rest are counted

# (files done, files in all, bytes done, bytes in all)
ImportProgress = Callable[[int, int, int, int], None]


@dataclass(frozen=True)
class ImportResult:
    site_id: int
    site_code: str
    version: int
    previous_version: int | None
    files: int
    copied_files: int
    copied_bytes: int
    kept_files: int
    removed_files: int
    configured: bool  # agent.json was written from the bundle (a site that was never online)


def _refuse(what: str, problems: list[str]) -> AgentError:
    listed = "\n  ".join(problems[:_LISTED])
    more = f"\n  … and {len(problems) - _LISTED} more" if len(problems) > _LISTED else ""
    return AgentError(f"{what}; nothing was changed:\n  {listed}{more}")


def _trusted_key(layout: Layout, bundle: Path, given: str | None) -> tuple[str, AgentConfig | None]:
    """The key to check the bundle with, and the site's config when it has one."""
    if layout.config.exists():
        config = layout.load_config()
        if given is not None and given.strip() != config.public_key:
            raise AgentError(
                f"--public-key differs from the key this site pinned ({config.public_key}); the pinned "
                "key is what counts. If the server's key really changed, run `mediasrv-site init` again."
            )
        return config.public_key, config
    if given is None:
        raise AgentError(
            f"{layout.root} has never been set up, so it has no pinned manifest key: pass "
            "--public-key KEY with the key your county gave you (`mediasrv site-bundle export` prints "
            f"it). Do not simply copy {bundle / PUBLIC_KEY}: it travelled on the same disk."
        )
    return given.strip(), None


def _read_signed(layout: Layout, bundle: Path, key: str) -> tuple[bytes, dict[str, Any]]:
    source = Layout(bundle)
    try:
        raw = source.manifest.read_bytes()
        signature = (bundle / SIGNATURE).read_text().strip()
    except FileNotFoundError as exc:
        raise AgentError(
            f"{bundle} is not a complete bundle ({Path(exc.filename).name} is missing): write it again "
            "with `mediasrv site-bundle export --site CODE DIR`."
        ) from None
    try:
        verify_signature(key, raw, signature)
    except AgentError:
        try:
            exported_with = (bundle / PUBLIC_KEY).read_text().strip()
        except FileNotFoundError:
            exported_with = key
        cause = (
            f"it was exported by a server with another key ({exported_with}): if that is really your "
            "server, run `mediasrv-site init` again to pin its new key"
            if exported_with != key
            else "the disk was altered or damaged: export it again"
        )
        raise AgentError(
            f"The bundle's manifest.sig does not match its manifest.json under the key {layout.root} "
            f"trusts ({key}): {cause}. Nothing was changed."
        ) from None
    doc: dict[str, Any] = json.loads(raw)
    if canonical(doc) != raw or doc.get("format") != FORMAT:
        raise AgentError(
            f"The bundle's manifest is signed but not format {FORMAT} in canonical form: this agent is too "
            "old or too new for the server that wrote it; install the matching mediasrv."
        )
    return raw, doc


def _copy_verified(src: Path, dest: Path, size: int, sha256: str) -> str | None:
    """Stream src to dest (fsynced), hashing; None when it is exactly the file wanted, else why not."""
    digest, got = hashlib.sha256(), 0
    with src.open("rb") as f, dest.open("wb") as out:
        while chunk := f.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            got += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    if got != size:
        return f"{got} bytes, the manifest says {size}"
    if digest.hexdigest() != sha256:
        return f"SHA-256 {digest.hexdigest()[:12]}…, the manifest says {sha256[:12]}…"
    return None


def _place(staged: Path, target: Path) -> None:
    """Put a verified staged file at target by one atomic rename (a hard link keeps `staged` for
    other paths with the same content)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.import")
    tmp.unlink(missing_ok=True)
    try:
        os.link(staged, tmp)
    except OSError:  # a filesystem without hard links (a FAT-formatted disk)
        shutil.copyfile(staged, tmp)
    tmp.replace(target)


def remove_unlisted(layout: Layout, listed: set[Path]) -> int:
    """Delete files under files/ that the applied manifest does not list; how many."""
    removed = 0
    for dirpath, _dirs, names in os.walk(layout.files, topdown=False):
        folder = Path(dirpath)
        for name in names:
            if folder / name not in listed:
                (folder / name).unlink(missing_ok=True)
                removed += 1
        if folder != layout.files:
            with contextlib.suppress(OSError):  # not empty: a sync wrote into it meanwhile
                folder.rmdir()
    return removed


def import_bundle(
    layout: Layout,
    bundle: Path,
    *,
    public_key: str | None = None,
    force: bool = False,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Check the bundle in `bundle` and make it this site's applied state (see the module)."""
    key, config = _trusted_key(layout, bundle, public_key)
    raw, doc = _read_signed(layout, bundle, key)
    site = doc["site"]
    if config is not None and site["id"] != config.site_id:
        raise AgentError(
            f"This bundle is for site {site['code']} (id {site['id']}), but {layout.root} is site "
            f"{config.site_code} (id {config.site_id}): export one with --site {config.site_code}."
        )
    with layout.lock():  # the sync lock: a daemon's run and an import never interleave
        return _adopt(layout, bundle, raw, doc, key, config, force=force, progress=progress)


def _adopt(
    layout: Layout,
    bundle: Path,
    raw: bytes,
    doc: dict[str, Any],
    key: str,
    config: AgentConfig | None,
    *,
    force: bool,
    progress: ImportProgress | None,
) -> ImportResult:
    site = doc["site"]
    applied = layout.applied()
    previous = int(applied[1]["version"]) if applied is not None else None
    if previous is not None and previous > doc["version"] and not force:
        raise AgentError(
            f"This site already applied manifest version {previous}, newer than the bundle's "
            f"{doc['version']}: the bundle is out of date. Export a fresh one, or pass --force to go "
            "back to it anyway."
        )

    layout.ensure()
    source = Layout(bundle)
    entries: list[dict[str, Any]] = doc["files"]
    total = sum(int(e["size"]) for e in entries)
    problems: list[str] = []
    staged: dict[str, Path] = {}  # sha256 -> verified copy in partial/
    to_place: list[tuple[Path, str]] = []
    verified: list[tuple[str, str]] = []  # (path, sha256) hashed by this import
    listed: set[Path] = set()
    kept = copied_bytes = done_bytes = 0
    try:
        for n, entry in enumerate(entries, start=1):
            path, size, sha = entry["path"], int(entry["size"]), entry["sha256"]
            done_bytes += size
            try:
                target, src = layout.file(path), source.file(path)
            except AgentError as exc:
                problems.append(str(exc))
                continue
            listed.add(target)
            if target.is_file() and target.stat().st_size == size and file_sha256(target) == sha:
                kept += 1  # already here (an earlier import or sync)
                verified.append((path, sha))
            elif sha in staged:
                to_place.append((target, sha))
            else:
                try:
                    src_size = src.stat().st_size
                except FileNotFoundError:
                    problems.append(f"{path}: missing from the bundle")
                    continue
                if src_size != size:
                    problems.append(f"{path}: {src_size} bytes, the manifest says {size}")
                    continue
                # Not partial/<sha256> itself: that name is a sync's resumable download.
                dest = layout.partial_for(sha).with_name(f"{sha}.import")
                wrong = _copy_verified(src, dest, size, sha)
                if wrong is not None:
                    dest.unlink()
                    problems.append(f"{path}: {wrong}")
                    continue
                staged[sha] = dest
                to_place.append((target, sha))
                copied_bytes += size
            if progress is not None:
                progress(n, len(entries), done_bytes, total)
        if problems:
            raise _refuse(
                f"Refused the bundle in {bundle}: {len(problems)} of {len(entries)} files are not what its "
                "signed manifest lists (a damaged or altered disk: export it again)",
                problems,
            )
        for target, sha in to_place:
            _place(staged[sha], target)
        for target, sha in to_place:
            verified.append((target.relative_to(layout.files).as_posix(), sha))
    finally:
        for path in staged.values():
            path.unlink(missing_ok=True)

    configured = config is None
    if configured:
        layout.save_config(
            AgentConfig(server=NOT_CONNECTED, site_id=site["id"], site_code=site["code"], public_key=key)
        )
    if layout.adopt(doc) != raw:  # cannot happen: canonical(doc) == raw was checked above
        raise AgentError("The adopted manifest differs from the signed one: report this as a bug.")
    removed = remove_unlisted(layout, listed)
    for path, sha in verified:  # so the next sync does not hash them all again
        layout.record_verified(path, sha)
    return ImportResult(
        site_id=site["id"],
        site_code=site["code"],
        version=doc["version"],
        previous_version=previous,
        files=len(entries),
        copied_files=len(to_place),
        copied_bytes=copied_bytes,
        kept_files=kept,
        removed_files=removed,
        configured=configured,
    )


def register(app: typer.Typer) -> None:
    """Add `mediasrv-site import` to the agent's command."""

    @app.command("import")
    def import_command(
        bundle: Annotated[
            Path, typer.Argument(exists=True, file_okay=False, help="the bundle, e.g. /media/usb/site-12")
        ],
        directory: Annotated[
            Path, typer.Option("--dir", envvar="MEDIASRV_SITE_DIR", help="the site's cache directory")
        ] = Path("mediasrv-site"),
        public_key: Annotated[
            str | None,
            typer.Option(help="the server's manifest key, for a site never set up with `init`"),
        ] = None,
        force: Annotated[
            bool, typer.Option(help="adopt the bundle even if this site has a newer version")
        ] = False,
    ) -> None:
        """Verify an offline bundle (signature, every file's size and SHA-256) and adopt it.

        Nothing changes unless everything checks out. Written by `mediasrv site-bundle export`.
        """
        console = Console(stderr=True)
        layout = Layout(directory)
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
        try:
            with Progress(*columns, console=console) as bar:
                task = bar.add_task("checking", total=None)

                def report(files: int, all_files: int, done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total, description=f"{files}/{all_files} files")

                result = import_bundle(layout, bundle, public_key=public_key, force=force, progress=report)
        except AgentError as exc:
            console.print(str(exc), style="red", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        before = f"from version {result.previous_version}" if result.previous_version is not None else "fresh"
        console.print(
            f"site {result.site_code}: manifest version {result.version} adopted ({before}); "
            f"{result.files} files: {result.copied_files} copied ({human_size(result.copied_bytes)}), "
            f"{result.kept_files} already here, {result.removed_files} old files removed",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        if result.configured:
            console.print(
                f"{layout.config} written with the key you gave and no server: once the site has a line, "
                "run `mediasrv-site init --server URL --token T` to sync over the network.",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
