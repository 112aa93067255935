"""`mediasrv-site import DIR`: adopt an offline bundle (see mediasrv/delivery/bundle.py) carried to a
site with no usable line, after checking its signature and every file.

Trust: the signature is checked with the key this site pinned (agent.json). A site that was never
online has none, so the administrator passes it with --public-key (printed by the export, and shown
at GET /api/v1/sites/manifest-key); the key.pub inside the bundle is never trusted on its own, since
whoever could alter the disk could alter it too. Such a site gets a minimal agent.json with an empty
`server`, which `mediasrv-site init --server URL --token T` fills in once the site has a line.

All or nothing: every file list the manifest names must hash to the digest the signed manifest
gives; every file they list is verified (size and SHA-256, streamed) into partial/ first; only when
all are right are they renamed into files/, the lists kept in lists/, the manifest adopted and
unlisted files removed. Each rename is atomic, so `mediasrv-site serve` keeps serving throughout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from mediasrv.agent.layout import AgentConfig, AgentError, Layout, verify_signature
from mediasrv.agent.words import OPERATOR, Lang, line, said
from mediasrv.protocol.document import BUNDLE_LISTS, FORMAT, canonical, list_digests, site_files
from mediasrv.protocol.document import BUNDLE_PUBLIC_KEY as PUBLIC_KEY
from mediasrv.protocol.document import BUNDLE_SIGNATURE as SIGNATURE
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


# A file of the bundle that is not what the manifest lists: a key of agent.words' LINES and its params.
FileProblem = tuple[str, dict[str, object]]


class BundleRefused(AgentError):
    """Files of the bundle are not what its signed manifest lists: each named, the first few."""

    def __init__(self, bundle: Path, files: int, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__(key="bundle_damaged", bundle=bundle, bad=len(problems), files=files)
        self.args = (self.said("en"),)

    def said(self, lang: Lang) -> str:
        listed = [line(key, lang, **params) for key, params in self.problems[:_LISTED]]
        if len(self.problems) > _LISTED:
            listed.append(line("bundle_more", lang, count=len(self.problems) - _LISTED))
        return "\n  ".join([super().said(lang), *listed])


def _trusted_key(layout: Layout, bundle: Path, given: str | None) -> tuple[str, AgentConfig | None]:
    """The key to check the bundle with, and the site's config when it has one."""
    if layout.config.exists():
        config = layout.load_config()
        if given is not None and given.strip() != config.public_key:
            raise AgentError(key="bundle_key_differs", pinned=config.public_key)
        return config.public_key, config
    if given is None:
        raise AgentError(key="bundle_no_key", dir=layout.root, copy=bundle / PUBLIC_KEY)
    return given.strip(), None


def _read_signed(layout: Layout, bundle: Path, key: str) -> tuple[bytes, dict[str, Any]]:
    source = Layout(bundle)
    try:
        raw = source.manifest.read_bytes()
        signature = (bundle / SIGNATURE).read_text().strip()
    except FileNotFoundError as exc:
        raise AgentError(key="bundle_incomplete", bundle=bundle, name=Path(exc.filename).name) from None
    try:
        verify_signature(key, raw, signature)
    except AgentError:
        try:
            exported_with = (bundle / PUBLIC_KEY).read_text().strip()
        except FileNotFoundError:
            exported_with = key
        if exported_with != key:
            raise AgentError(
                key="bundle_other_key", dir=layout.root, trusted=key, exported_with=exported_with
            ) from None
        raise AgentError(key="bundle_altered", dir=layout.root, trusted=key) from None
    doc: dict[str, Any] = json.loads(raw)
    if canonical(doc) != raw or doc.get("format") != FORMAT:
        raise AgentError(key="bundle_format", format=FORMAT)
    return raw, doc


def _copy_verified(src: Path, dest: Path, size: int, sha256: str) -> FileProblem | None:
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
        return "bundle_file_size", {"got": got, "size": size}
    if digest.hexdigest() != sha256:
        return "bundle_file_hash", {"got": digest.hexdigest()[:12], "want": sha256[:12]}
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
            key="bundle_other_site",
            code=site["code"],
            site_id=site["id"],
            dir=layout.root,
            own_code=config.site_code,
            own_id=config.site_id,
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
        raise AgentError(key="bundle_older", previous=previous, version=doc["version"])

    layout.ensure()
    source = Layout(bundle)
    problems: list[FileProblem] = []
    lists: dict[str, dict[str, Any]] = {}
    for sha in list_digests(doc):
        found = source.load_list(sha)  # None unless its bytes hash to the signed digest
        if found is None:
            problems.append(("bundle_file_missing", {"path": f"{BUNDLE_LISTS}/{sha}.json"}))
        else:
            lists[sha] = found
    if problems:
        raise BundleRefused(bundle, len(problems), problems)
    entries = site_files(doc, lists)
    total = sum(int(e["size"]) for e in entries)
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
            except AgentError:
                problems.append(("bundle_file_path", {"path": path}))
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
                    problems.append(("bundle_file_missing", {"path": path}))
                    continue
                if src_size != size:
                    problems.append(("bundle_file_size", {"path": path, "got": src_size, "size": size}))
                    continue
                # Not partial/<sha256> itself: that name is a sync's resumable download.
                dest = layout.partial_for(sha).with_name(f"{sha}.import")
                wrong = _copy_verified(src, dest, size, sha)
                if wrong is not None:
                    dest.unlink()
                    problems.append((wrong[0], {"path": path, **wrong[1]}))
                    continue
                staged[sha] = dest
                to_place.append((target, sha))
                copied_bytes += size
            if progress is not None:
                progress(n, len(entries), done_bytes, total)
        if problems:
            raise BundleRefused(bundle, len(entries), problems)
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
    for sha in lists:
        layout.save_list(sha, source.list_file(sha).read_bytes())  # checked by load_list above
    if layout.adopt(doc) != raw:  # cannot happen: canonical(doc) == raw was checked above
        raise AgentError("The adopted manifest differs from the signed one: report this as a bug.")
    removed = remove_unlisted(layout, listed)
    layout.clean_lists(set(lists))
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

    @app.command("import", help="agent.help.import")
    def import_command(
        bundle: Annotated[Path, typer.Argument(help="agent.help.import.bundle")],
        directory: Annotated[
            Path, typer.Option("--dir", envvar="MEDIASRV_SITE_DIR", help="agent.help.common.dir")
        ] = Path("mediasrv-site"),
        public_key: Annotated[
            str | None,
            typer.Option(help="agent.help.import.public_key"),
        ] = None,
        force: Annotated[bool, typer.Option(help="agent.help.import.force")] = False,
    ) -> None:
        """Verify an offline bundle (signature, every file's size and SHA-256) and adopt it.

        Nothing changes unless everything checks out. Written by `mediasrv site-bundle export`.
        """
        console = Console(stderr=True)

        def tell(text: str, style: str | None = None) -> None:
            console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

        if not bundle.is_dir():  # checked here, not by typer: its words would be English
            tell(said("bundle_missing", bundle=bundle), "red")
            raise typer.Exit(2)
        layout = Layout(directory)
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
        try:
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task(said("import_checking"), total=None)

                def report(files: int, all_files: int, done: int, total: int) -> None:
                    described = said("import_files", files=files, all_files=all_files)
                    bar.update(task, completed=done, total=total, description=described)

                result = import_bundle(layout, bundle, public_key=public_key, force=force, progress=report)
        except AgentError as exc:  # a bad bundle, a wrong key, a busy site: what to do, exit 2
            tell(exc.said(OPERATOR[0]), "red")
            raise typer.Exit(2) from None
        before = (
            said("import_from_version", version=result.previous_version)
            if result.previous_version is not None
            else said("import_fresh")
        )
        tell(
            said(
                "import_done",
                code=result.site_code,
                version=result.version,
                before=before,
                files=result.files,
                copied=result.copied_files,
                size=human_size(result.copied_bytes),
                kept=result.kept_files,
                removed=result.removed_files,
            )
        )
        if result.configured:
            tell(said("import_configured", config=layout.config, dir=shlex.quote(str(directory))))
