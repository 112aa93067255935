"""The programmes a site's manifest leaves out (its `dropped` entries), said in words the people who
care can act on: the county's administrator on the server's site page, the village site
administrator on the agent's site view. Both read the same entries and say the same sentence, so the
words live here, beside the format (standard library only: the agent imports protocol, not the
server's catalogues).

An entry, as mediasrv.delivery.manifest.build writes it:

    id, title, required, bytes   the programme, and the bytes it would take (0 when nothing to hold)
    code        why, stable: over_quota (an optional programme that does not fit the quota) or
                no_rendition (nothing the site's device profile plays); absent in older manifests
    reason      the same in English, for agents before codes and for the log
    need, left, quota   over_quota: the bytes the programme would add, what the quota has left after
                the programmes ranked before it, the quota
    kind, profile       no_rendition: the main media's kind (video, audio, document; missing when the
                programme has none) and the site's device profile

Sizes are said in KB, MB, GB (protocol.sizes.PLAIN), as the quota is set and as Windows shows disks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from mediasrv.protocol.sizes import PLAIN, human_size

Lang = Literal["zh", "en"]
Reader = Literal["county", "site"]  # the server's site page; the agent's site view

OVER_QUOTA = "over_quota"
NO_RENDITION = "no_rendition"

# key -> (中文, English), the same {params} in both.
TEXTS: dict[str, tuple[str, str]] = {
    OVER_QUOTA: (
        "《{title}》未下载：超出存储配额，还需 {need}，剩余 {left}（共 {quota}）",
        "“{title}” is not downloaded: over the storage quota; it needs {need}, {left} of {quota} left",
    ),
    NO_RENDITION: (
        "《{title}》未下载：{profile}播放不了这个节目（{kind}），没有适合它的版本",
        "“{title}” is not downloaded: a {profile} cannot play it ({kind}); there is no version for one",
    ),
    "other": ("《{title}》未下载：{reason}", "“{title}” is not downloaded: {reason}"),
    # What to do, per reader: the county sets the quota and the profile; the village can free its disk
    # and ask the county.
    f"{OVER_QUOTA}.county": (
        "站点电脑的硬盘还有空间时（见上面它报告的剩余空间），请调高本站点的存储配额；硬盘不够时，请站点先删除"
        "不用的文件。选学节目按排名在配额内下载，必学节目总会下载。",
        "If the site PC's disk has room (see the free space it reported, above), raise this site's storage "
        "quota; if not, have the site delete files it does not need first. Optional programmes are "
        "downloaded by rank within the quota; required ones always are.",
    ),
    f"{OVER_QUOTA}.site": (
        "本机硬盘还有空间时，请联系县里调高本站点的存储配额；硬盘不够时，请先删除本机不用的文件腾出空间。",
        "If this PC's disk has room, ask the county to raise this site's storage quota; if not, delete "
        "files this PC does not need first.",
    ),
    f"{NO_RENDITION}.county": (
        "这类节目在这种设备上播放不了。站点如果用电脑或投影收看，请把本站点的终端类型改为“电脑或投影”；"
        "否则不用处理。",
        "This kind of programme does not play on this kind of device. If the site watches on a PC or a "
        "projector, change its device profile to “PC or projector”; otherwise nothing needs doing.",
    ),
    f"{NO_RENDITION}.site": (
        "本站点的设备播放不了这个节目，它不会下载到本机，不用处理；确实需要时请联系县里。",
        "This site's device cannot play this programme, so it is not downloaded; nothing needs doing. "
        "If the site really needs it, ask the county.",
    ),
    "other.county": ("", ""),
    "other.site": ("", ""),
    # The manifest's over_quota: the required programmes alone need more than the quota.
    "required_over": (
        "必学节目共 {pinned}，已超过存储配额（{quota}）：必学节目仍会全部下载，选学节目都不下载。",
        "The required programmes alone take {pinned}, more than the storage quota ({quota}): they are "
        "still all downloaded, and no optional one is.",
    ),
    "required_over.county": (
        "请调高本站点的存储配额（站点电脑的硬盘要放得下）。",
        "Raise this site's storage quota (the site PC's disk must hold it).",
    ),
    "required_over.site": (
        "请确认本机硬盘放得下，并联系县里调高本站点的存储配额。",
        "Make sure this PC's disk has room, and ask the county to raise this site's storage quota.",
    ),
    "usage": (
        "存储配额 {quota}：要下载的节目共 {bytes}，其中必学 {pinned}。",
        "Storage quota {quota}: the programmes to download take {bytes}, {pinned} of it required.",
    ),
    "usage_unlimited": (
        "没有存储配额：要下载的节目共 {bytes}，其中必学 {pinned}。",
        "No storage quota: the programmes to download take {bytes}, {pinned} of it required.",
    ),
    "usage_free": ("站点电脑上次报告硬盘剩余 {free}。", "The site PC last reported {free} free on its disk."),
    "usage_no_report": ("站点电脑还没有报告过硬盘空间。", "The site PC has not reported its disk space yet."),
}
# The words the sentences put in: a media kind, a device profile (as the sites page names them).
KINDS: dict[str, tuple[str, str]] = {
    "video": ("视频", "a film"),
    "audio": ("音频", "an audio recording"),
    "document": ("PDF 课件", "a PDF document"),
    "pending": ("媒体还没有处理完", "its media is not processed yet"),
    "missing": ("没有媒体文件", "it has no media"),
}
PROFILES: dict[str, tuple[str, str]] = {
    "iptv": ("机顶盒", "set-top box"),
    "iptv-legacy": ("老式机顶盒（标清）", "old set-top box (SD)"),
    "mobile": ("手机", "phone"),
    "pc": ("电脑或投影", "PC or projector"),
}


def _said(pair: tuple[str, str] | None, lang: Lang, fallback: str) -> str:
    return fallback if pair is None else pair[0 if lang == "zh" else 1]


def _size(value: Any) -> str:
    return human_size(value, PLAIN) if isinstance(value, int) else "?"


def code_of(entry: Mapping[str, Any]) -> str:
    """The entry's code; "other" for one without a known code (an older manifest: its reason is said)."""
    code = entry.get("code")
    return code if code in (OVER_QUOTA, NO_RENDITION) else "other"


def line(entry: Mapping[str, Any], lang: Lang = "zh") -> str:
    """What happened to one left-out programme, e.g.
    《…》未下载：超出存储配额，还需 1.2 GB，剩余 300 MB（共 20 GB）"""
    code = code_of(entry)
    params = {
        "title": " ".join(str(entry.get("title") or entry.get("id") or "").split()),
        "need": _size(entry.get("need")),
        "left": _size(entry.get("left")),
        "quota": _size(entry.get("quota")),
        "kind": _said(KINDS.get(str(entry.get("kind"))), lang, str(entry.get("kind"))),
        "profile": _said(PROFILES.get(str(entry.get("profile"))), lang, str(entry.get("profile"))),
        "reason": str(entry.get("reason") or ""),
    }
    return _said(TEXTS[code], lang, "").format(**params)


def advice(entry: Mapping[str, Any], reader: Reader, lang: Lang = "zh") -> str:
    """What `reader` can do about it ("" when there is nothing to say)."""
    return _said(TEXTS[f"{code_of(entry)}.{reader}"], lang, "")


def required_over(pinned: int, quota: int, reader: Reader, lang: Lang = "zh") -> tuple[str, str]:
    """The manifest's over_quota said, and what `reader` can do."""
    said = _said(TEXTS["required_over"], lang, "").format(pinned=_size(pinned), quota=_size(quota))
    return said, _said(TEXTS[f"required_over.{reader}"], lang, "")


def usage(total: int, pinned: int, quota: int | None, free: int | None, lang: Lang = "zh") -> str:
    """The quota against what the manifest holds and the disk's free space the site last reported, e.g.
    存储配额 20.0 GB：要下载的节目共 18.2 GB，其中必学 3.1 GB。站点电脑上次报告硬盘剩余 35.2 GB。"""
    key = "usage" if quota is not None else "usage_unlimited"
    said = _said(TEXTS[key], lang, "").format(quota=_size(quota), bytes=_size(total), pinned=_size(pinned))
    disk = _said(TEXTS["usage_free" if free is not None else "usage_no_report"], lang, "")
    return said + ("" if lang == "zh" else " ") + disk.format(free=_size(free))
