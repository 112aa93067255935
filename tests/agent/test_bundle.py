"""Offline bundles: `mediasrv site-bundle export` to a disk, `mediasrv-site import` at the site."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from mediasrv import epochs
from mediasrv.agent.cli import app as agent_cli
from mediasrv.agent.layout import AgentConfig, Layout
from mediasrv.cli import cli
from mediasrv.config import Settings
from mediasrv.db import Database
from mediasrv.delivery.bundle import BundleError, ExportResult, export_bundle
from mediasrv.delivery.manifest.store import ManifestService
from mediasrv.protocol.china import today_in_china
from mediasrv.storage import ObjectStore
from tests.agent.test_serve import ServedSite, make_site, mirror
from tests.fixtures import ReadyAsset, publish_programme


@pytest.fixture
def site(
    client: TestClient, db: Database, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> ServedSite:
    return make_site(client, db, producer, admin, ready_asset)


@pytest.fixture
def public_key(client: TestClient) -> str:
    key: str = client.get("/api/v1/sites/manifest-key").json()["public_key"]
    return key


def export(
    client: TestClient, db: Database, store: ObjectStore, site: ServedSite, dest: Path
) -> ExportResult:
    """What the command does: a ManifestService of its own, the site's current manifest."""
    manifests = ManifestService(db, client.app.state.signing_key, epochs.EpochWatch(db))  # type: ignore[attr-defined]
    return export_bundle(db, store, manifests, site.id, dest, on=today_in_china())


def site_import(bundle: Path, cache: Path, *args: str) -> Result:
    # English: these tests read the details; test_a_bad_bundle_is_told_in_chinese reads the Chinese.
    return CliRunner().invoke(agent_cli, ["--lang", "en", "import", str(bundle), "--dir", str(cache), *args])


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_an_imported_bundle_gives_the_state_of_a_network_sync(
    client: TestClient, site: ServedSite, settings: Settings, public_key: str, tmp_path: Path
) -> None:
    usb = tmp_path / "U盘" / "xitang"
    exported = CliRunner().invoke(
        cli,
        ["site-bundle", "export", "--site", site.code, str(usb)],
        env={"MEDIASRV_DATA_DIR": str(settings.data_dir)},
    )
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.strip().splitlines()[-1] == public_key  # printed so the admin can pin it
    assert (usb / "manifest.json").read_bytes() == site.raw  # the exact signed bytes
    assert (usb / "manifest.sig").read_text().strip() == site.signature
    assert (usb / "key.pub").read_text().strip() == public_key

    # A site that was never online: the key comes from the administrator, not from the disk.
    cache = tmp_path / "mediasrv-site"
    imported = site_import(usb, cache, "--public-key", public_key)
    assert imported.exit_code == 0, imported.output
    assert "mediasrv-site init --server URL" in imported.output

    synced = Layout(tmp_path / "synced")
    mirror(client, site, synced)  # what fetching every URL of the manifest gives
    local = Layout(cache)
    assert local.manifest.read_bytes() == site.raw == synced.manifest.read_bytes()
    assert tree(local.files) == tree(synced.files)
    assert sorted(tree(local.files)) == sorted(f["path"] for f in site.files)
    assert list(local.partial.iterdir()) == []
    config = local.load_config()
    assert config == AgentConfig(server="", site_id=site.id, site_code=site.code, public_key=public_key)

    # Now the key is pinned; importing again verifies everything and copies nothing.
    again = site_import(usb, cache)
    assert again.exit_code == 0, again.output
    assert f"{len(site.files)} already here" in again.output and "0 copied" in again.output


def _tamper_segment(usb: Path, site: ServedSite) -> str:
    path = next(f["path"] for f in site.files if f["path"].endswith(".ts"))
    target = usb / "files" / path
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF  # same size, different content
    target.write_bytes(bytes(data))
    return path


def test_a_damaged_or_forged_bundle_is_refused_and_nothing_adopted(
    client: TestClient, db: Database, store: ObjectStore, site: ServedSite, public_key: str, tmp_path: Path
) -> None:
    usb, cache = tmp_path / "usb", tmp_path / "site"
    export(client, db, store, site, usb)

    no_key = site_import(usb, cache)
    assert no_key.exit_code == 2 and "--public-key" in no_key.output and "key.pub" in no_key.output
    forged_key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    other = site_import(usb, cache, "--public-key", base64.b64encode(forged_key).decode())
    assert other.exit_code == 2 and "another key" in other.output
    assert not Layout(cache).config.exists() and not Layout(cache).manifest.exists()

    path = _tamper_segment(usb, site)
    damaged = site_import(usb, cache, "--public-key", public_key)
    assert damaged.exit_code == 2 and path in damaged.output and "nothing was changed" in damaged.output
    local = Layout(cache)
    assert not local.manifest.exists() and not local.config.exists()
    assert tree(local.files) == {} and list(local.partial.iterdir()) == []

    # A site with a good state keeps it when a later bundle is bad.
    export(client, db, store, site, usb)  # repairs the disk
    assert site_import(usb, cache, "--public-key", public_key).exit_code == 0
    before = (local.manifest.read_bytes(), tree(local.files))
    (usb / "files" / path).unlink()
    missing = site_import(usb, cache)
    assert missing.exit_code == 0  # the site already holds that file: nothing needed from the disk

    # A file list altered on the disk no longer hashes to the digest the signed manifest gives.
    sha = next(iter(site.lists))
    kept = usb / "lists" / f"{sha}.json"
    kept.write_bytes(kept.read_bytes().replace(b'"size":', b'"size":1', 1))
    altered_list = site_import(usb, cache)
    assert altered_list.exit_code == 2 and f"lists/{sha}.json" in altered_list.output
    assert (local.manifest.read_bytes(), tree(local.files)) == before
    kept.write_bytes(site.lists[sha])

    doc = json.loads(site.raw)
    doc["programmes"][0]["title"] = "篡改的标题"
    doc["version"] += 1
    (usb / "manifest.json").write_bytes(
        json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    forged = site_import(usb, cache)
    assert forged.exit_code == 2 and "manifest.sig does not match" in forged.output
    assert "altered or damaged" in forged.output
    assert (local.manifest.read_bytes(), tree(local.files)) == before

    (usb / "manifest.json").write_bytes(site.raw)
    (usb / "manifest.sig").write_text(base64.b64encode(b"\0" * 64).decode())
    assert site_import(usb, cache).exit_code == 2
    assert (local.manifest.read_bytes(), tree(local.files)) == before

    # --public-key cannot override the pinned key.
    clash = site_import(usb, cache, "--public-key", base64.b64encode(forged_key).decode())
    assert clash.exit_code == 2 and "pinned" in clash.output


def test_missing_files_are_listed(
    client: TestClient, db: Database, store: ObjectStore, site: ServedSite, public_key: str, tmp_path: Path
) -> None:
    usb, cache = tmp_path / "usb", tmp_path / "site"
    export(client, db, store, site, usb)
    segments = [f["path"] for f in site.files if f["path"].endswith(".ts")]
    for path in segments:
        (usb / "files" / path).unlink()
    r = site_import(usb, cache, "--public-key", public_key)
    assert r.exit_code == 2 and f"{len(segments)} of {len(site.files)} files" in r.output
    assert all(f"{path}: missing from the bundle" in r.output for path in segments[:5])
    assert not Layout(cache).manifest.exists()


def test_re_export_is_incremental_and_checked(
    client: TestClient,
    db: Database,
    store: ObjectStore,
    site: ServedSite,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    tmp_path: Path,
) -> None:
    usb = tmp_path / "usb"
    first = export(client, db, store, site, usb)
    assert (first.files, first.written_files, first.version) == (
        len(site.files),
        len(site.files),
        1,
    )
    assert first.total_bytes == site.doc["bytes"] == first.written_bytes

    again = export(client, db, store, site, usb)
    assert (again.written_files, again.written_bytes, again.removed_files) == (0, 0, 0)

    # A damaged file on the disk is found (size and SHA-256 checked) and rewritten; strays go.
    path = _tamper_segment(usb, site)
    (usb / "files" / "old" / "seg.ts").parent.mkdir()
    (usb / "files" / "old" / "seg.ts").write_bytes(b"from an older export")
    repaired = export(client, db, store, site, usb)
    assert (repaired.written_files, repaired.removed_files) == (1, 1)
    assert hashlib.sha256((usb / "files" / path).read_bytes()).hexdigest() == next(
        f["sha256"] for f in site.files if f["path"] == path
    )
    assert not (usb / "files" / "old").exists()

    # A new programme: only its files are copied.
    film = ready_asset(producer, "video")
    publish_programme(client, producer, admin, film, title="新节目")
    newer = export(client, db, store, site, usb)
    doc = json.loads((usb / "manifest.json").read_bytes())
    added = [f for f in Layout(usb).files_of(doc) if f["path"].startswith(film + "/")]
    assert newer.version == 2 and added
    assert (newer.written_files, newer.written_bytes) == (len(added), sum(f["size"] for f in added))


def test_export_refuses_files_that_do_not_match_the_manifest(
    client: TestClient, db: Database, store: ObjectStore, site: ServedSite, tmp_path: Path
) -> None:
    path = next(f["path"] for f in site.files if f["path"].endswith(".ts"))
    stored = store.root / "hls" / path  # type: ignore[attr-defined]
    stored.write_bytes(stored.read_bytes()[:-10])  # storage went bad after publishing
    usb = tmp_path / "usb"
    with pytest.raises(BundleError, match=path) as refused:
        export(client, db, store, site, usb)
    assert "no manifest was written" in refused.value.message
    assert not (usb / "manifest.json").exists() and not (usb / "files" / path).exists()


def test_an_older_bundle_is_refused_unless_forced(
    client: TestClient,
    db: Database,
    store: ObjectStore,
    site: ServedSite,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    public_key: str,
    tmp_path: Path,
) -> None:
    old_usb, new_usb, cache = tmp_path / "old", tmp_path / "new", tmp_path / "site"
    export(client, db, store, site, old_usb)
    film = ready_asset(producer, "video")
    publish_programme(client, producer, admin, film, title="新节目")
    assert export(client, db, store, site, new_usb).version == 2
    assert site_import(new_usb, cache, "--public-key", public_key).exit_code == 0
    assert any(p.startswith(film) for p in tree(Layout(cache).files))

    older = site_import(old_usb, cache)
    assert older.exit_code == 2 and "already applied manifest version 2" in older.output
    assert json.loads(Layout(cache).manifest.read_bytes())["version"] == 2

    forced = site_import(old_usb, cache, "--force")
    assert forced.exit_code == 0, forced.output
    assert Layout(cache).manifest.read_bytes() == site.raw
    assert sorted(tree(Layout(cache).files)) == sorted(
        f["path"] for f in site.files
    )  # the new film's files gone


def test_a_bundle_for_another_site_is_refused(
    client: TestClient,
    db: Database,
    store: ObjectStore,
    site: ServedSite,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    public_key: str,
    tmp_path: Path,
) -> None:
    cache = Layout(tmp_path / "site")
    cache.save_config(
        AgentConfig(
            server="http://edu.example.cn", site_id=site.id + 1000, site_code="dongcun", public_key=public_key
        )
    )
    export(client, db, store, site, tmp_path / "usb")
    r = site_import(tmp_path / "usb", cache.root)
    assert r.exit_code == 2 and "--site dongcun" in r.output and not cache.manifest.exists()


def test_an_import_waits_for_no_sync(
    client: TestClient, db: Database, store: ObjectStore, site: ServedSite, public_key: str, tmp_path: Path
) -> None:
    export(client, db, store, site, tmp_path / "usb")
    cache = Layout(tmp_path / "site")
    with cache.lock():  # a daemon's sync is running
        busy = site_import(tmp_path / "usb", cache.root, "--public-key", public_key)
    assert busy.exit_code == 2 and "being synced" in busy.output and not cache.manifest.exists()
    assert site_import(tmp_path / "usb", cache.root, "--public-key", public_key).exit_code == 0
    # What the import hashed is on record, so the next sync need not hash it all again.
    assert set(cache.known()) == {f["path"] for f in site.files}
