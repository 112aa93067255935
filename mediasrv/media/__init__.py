"""Pure media logic: probe a source, decide renditions, plan and run one ffmpeg, describe the HLS output.

No database, storage or task queue here; callers (mediasrv.ingest) own those.
"""

from mediasrv.media.hls import VariantInfo, finish_renditions, master_playlist, measure_variant
from mediasrv.media.plan import TranscodePlan, build_plan
from mediasrv.media.probe import AudioInfo, MediaInfo, VideoInfo, probe
from mediasrv.media.profiles import Group, RenditionSpec, renditions_for
from mediasrv.media.runner import TranscodeFailed, TranscodeStalled, run_ffmpeg

__all__ = [
    "AudioInfo",
    "Group",
    "MediaInfo",
    "RenditionSpec",
    "TranscodeFailed",
    "TranscodePlan",
    "TranscodeStalled",
    "VariantInfo",
    "VideoInfo",
    "build_plan",
    "finish_renditions",
    "master_playlist",
    "measure_variant",
    "probe",
    "renditions_for",
    "run_ffmpeg",
]
