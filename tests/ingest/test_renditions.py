"""A rendition's measured figures pass from media.hls into the row and back out by one mapping."""

from __future__ import annotations

import dataclasses

from mediasrv.ingest.models import MEASURED, Rendition
from mediasrv.media.hls import VariantInfo, master_playlist

MEASURED_VARIANT = VariantInfo(
    name="mobile-360p",
    playlist="mobile-360p/index.m3u8",
    bandwidth=812_345,
    average_bandwidth=701_234,
    codecs="avc1.4d401e,mp4a.40.2",
    width=640,
    height=360,
    frame_rate=25.0,
    segment_count=3,
    duration_seconds=14.56,
    size_bytes=1_276_543,
)


def test_every_measured_figure_has_a_column() -> None:
    columns = set(Rendition.__table__.columns.keys())
    assert set(MEASURED) <= columns, f"no column for {set(MEASURED) - columns}: add it (and a migration)"
    assert "playlist" not in MEASURED  # the row keeps the object's key instead


def test_a_variant_goes_into_the_row_and_comes_back_whole() -> None:
    key = "hls/a1/g1/mobile-360p/index.m3u8"
    row = Rendition.of(MEASURED_VARIANT, groups=("mobile",), playlist_key=key)
    assert (row.groups, row.playlist_key) == (["mobile"], key)
    assert row.duration_seconds == 14.56 and row.size_bytes == 1_276_543
    back = row.variant("g1/mobile-360p/index.m3u8")
    assert back == dataclasses.replace(MEASURED_VARIANT, playlist="g1/mobile-360p/index.m3u8")
    # The master playlist rendered from the row says what the measurement said.
    assert master_playlist([back]) == master_playlist([MEASURED_VARIANT], uri_prefix="g1/")


def test_a_copy_keeps_every_figure_under_its_own_key() -> None:
    row = Rendition.of(MEASURED_VARIANT, groups=["mobile", "pc"], playlist_key="hls/a1/g1/m/index.m3u8")
    copy = row.copy(playlist_key="hls/b2/g2/m/index.m3u8")
    assert copy is not row and copy.groups is not row.groups
    assert (copy.groups, copy.playlist_key) == (["mobile", "pc"], "hls/b2/g2/m/index.m3u8")
    assert copy.variant("x") == row.variant("x")
