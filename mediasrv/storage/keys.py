"""Where each kind of object lives in the store: the only module that spells a key.

    sources/<sha256[:2]>/<sha256>                 an uploaded original, named by its content, shared
                                                  by every department's asset of the same bytes
    hls/<asset>/<generation>/<rendition>/...      a transcode's outputs: media playlists, segments
    hls/<asset>/<generation>/poster.jpg           and the poster, all written once per generation
    study/<site>/<session>/<sha256>.<jpg|png>     a study session's photo, named by its content
    work/<asset>/<generation>/...                 a chunked transcode's pieces, passed between
                                                  workers and deleted once the generation is published
    audio-tracks/<asset>/<language>-<sha256>      a producer's dub of a film, as uploaded
    uploads/<upload>/file                         a resumable upload being received (multipart parts)
    uploads/<upload>/piece-<offset>               bytes received after its last whole part

The part of an hls key after `hls/` is also the file's path in the sites' caching manifests and its
URL below /hls/ (and `asset_path`, below hls/<asset>/, is what AssetFile rows record), so a path a
manifest names is turned into a key here and nowhere else.
"""

from __future__ import annotations

from mediasrv.storage.base import check_key

_HLS = "hls/"


def source(sha256: str) -> str:
    """An uploaded original (content-addressed)."""
    return check_key(f"sources/{sha256[:2]}/{_part(sha256)}")


def _part(name: str) -> str:
    """One folder name of a key: an id or a generation, never a path."""
    if "/" in name:
        raise ValueError(f"invalid object key part: {name!r}")
    return check_key(name)


def asset_prefix(asset_id: str) -> str:
    """Every generation of an asset's outputs (list or delete them all)."""
    return f"{_HLS}{_part(asset_id)}/"


def generation_prefix(asset_id: str, generation: str) -> str:
    """One generation of an asset's outputs; nothing points at it until it is published."""
    return f"{asset_prefix(asset_id)}{_part(generation)}/"


def generation_file(asset_id: str, generation: str, path: str) -> str:
    """A file of one generation, `path` relative to it ("mobile/index.m3u8", "poster.jpg").
    ValueError when a part could leave its folder or is not a key."""
    return check_key(generation_prefix(asset_id, generation) + path)


def work_prefix(asset_id: str, generation: str | None = None) -> str:
    """A chunked transcode's intermediate files: one generation's, or (no generation) all of them."""
    prefix = f"work/{_part(asset_id)}/"
    return prefix if generation is None else f"{prefix}{_part(generation)}/"


def work_file(asset_id: str, generation: str, path: str) -> str:
    """One intermediate file of a chunked transcode, `path` relative to its generation's folder."""
    return check_key(work_prefix(asset_id, generation) + path)


def hls_file(path: str) -> str:
    """The key of an output named by its path below /hls/ ("<asset>/<generation>/..."), as caching
    manifests and URLs name it. ValueError when it is not a key."""
    return check_key(_HLS + path)


def asset_path(asset_id: str, key: str) -> str:
    """An output's path relative to its asset's folder ("<generation>/mobile/index.m3u8"): the
    relative URI a master playlist lists it by and the path an AssetFile row records."""
    prefix = asset_prefix(asset_id)
    if not key.startswith(prefix):
        raise ValueError(f"object key {key!r} is not an output of asset {asset_id}")
    return key.removeprefix(prefix)


def generation_path(key: str) -> tuple[str, str]:
    """(generation, path within it) of an output's key: the inverse of generation_file."""
    parts = check_key(key).split("/", 3)
    if len(parts) != 4 or parts[0] + "/" != _HLS:
        raise ValueError(f"object key {key!r} is not a file of a generation (hls/<asset>/<generation>/...)")
    return parts[2], parts[3]


def audio_track_prefix(asset_id: str) -> str:
    """Every uploaded audio track of a film, current or replaced."""
    return f"audio-tracks/{_part(asset_id)}/"


def audio_track(asset_id: str, language: str, sha256: str) -> str:
    """A producer's extra audio track of a film, as uploaded (ingest.tracks); one per language."""
    return check_key(f"{audio_track_prefix(asset_id)}{_part(language)}-{_part(sha256)}")


def session_photo(site_id: int, session_id: str, sha256: str, suffix: str) -> str:
    """A study session's photo (content-addressed within the session); suffix ".jpg" or ".png"."""
    return check_key(f"study/{site_id}/{_part(session_id)}/{_part(sha256 + suffix)}")


def upload_prefix(upload_id: str) -> str:
    """Everything of one resumable upload still being received (ingest.tus)."""
    return f"uploads/{_part(upload_id)}/"


def upload_file(upload_id: str) -> str:
    """The resumable upload's file: written in multipart parts, whole once every byte is in."""
    return check_key(upload_prefix(upload_id) + "file")


def upload_piece(upload_id: str, offset: int) -> str:
    """Bytes received from `offset` that do not yet fill a part (a PATCH's remainder)."""
    return check_key(f"{upload_prefix(upload_id)}piece-{offset:015d}")
