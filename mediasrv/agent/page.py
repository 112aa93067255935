"""The site view: what the site administrator sees at `GET /` of `mediasrv-site serve` on the site PC
(a browser, or the TV's): the sync state in plain words, today's required programmes (必学) then the
optional ones (选学), and a player that plays them from this PC's own copy.

It lives on the agent's LAN origin, not on the server, because it must work when the village line is
down, and site administrators have no server accounts. Everything is rendered here with html.escape
(titles come from the manifest); static/site.js only adds keyboard navigation (a TV remote: arrows,
OK, Back), the player, and the study-record forms (记录学习, 评价节目, 需求调查: mediasrv.agent.records)
with this month's records, the fault report (报告故障: mediasrv.agent.faults) with what became of
each, and sets text with textContent, never innerHTML.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from mediasrv.agent import words as problems
from mediasrv.agent.layout import AgentState, Layout
from mediasrv.protocol import dropped, taxonomy
from mediasrv.protocol.china import CHINA
from mediasrv.protocol.sizes import PLAIN, human_size

STATIC = Path(__file__).parent / "static"
# What /static/<name> may serve: a fixed list, so the route can never reach another file (the player
# script, vendor/hls.min.js, is found by agent.player).
ASSETS: dict[str, tuple[Path, str]] = {
    "site.css": (STATIC / "site.css", "text/css; charset=utf-8"),
    "site.js": (STATIC / "site.js", "text/javascript; charset=utf-8"),
}
NO_HLS_JS = (
    "hls.min.js (the player component) is not on this PC yet: the next sync fetches it from the "
    "mediasrv server once the line is up (or run `mediasrv-site sync` now), then reload the page.\n"
)

# The catalog's taxonomy by code: (中文, English).
CATEGORIES: dict[str, tuple[str, str]] = {code: (zh, en) for code, zh, en in taxonomy.CATEGORIES}

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "党员远程教育 · 站点",
        "colon": "：",
        "paren": "（{}）",
        "site": "站点",
        "other_lang": "English",
        "sync": "同步状态",
        "verdict.complete": "完整",
        "verdict.syncing": "正在同步",
        "verdict.missing": "缺少文件",
        "verdict.none": "尚未同步",
        "advice.complete": "所有节目都已保存在本机，断网也能播放。",
        "advice.syncing": "正在下载节目，请保持电脑开机、网络连通。下面列出的节目现在就能播放。",
        "advice.missing": "还缺 {files} 个文件（{size}）。请接通网络后运行 mediasrv-site sync，"
        "或用 U 盘导入（mediasrv-site import）。下面列出的节目现在就能播放。",
        "advice.pending": "新的节目单（版本 {version}）还缺 {files} 个文件（{size}），尚未启用。"
        "请接通网络后运行 mediasrv-site sync。下面列出的节目现在就能播放。",
        "advice.window": "自动下载只在每天 {window} 进行。",
        "advice.none": "本机还没有节目单：接通网络后运行 mediasrv-site sync，"
        "或用 U 盘导入（mediasrv-site import 目录）。",
        "fact.version": "节目单版本",
        "fact.files": "文件",
        "fact.missing": "缺少",
        "fact.last_complete": "上次完整同步",
        "fact.last_sync": "上次同步",
        "fact.disk_free": "剩余空间",
        "fact.playlist": "机顶盒播放列表",
        "fact.detail": "详情",
        "never": "从未",
        "beijing": "北京时间",
        "outcome.complete": "成功",
        "outcome.deferred": "等待下载时段",
        "outcome.failed": "失败",
        "outcome.incomplete": "未完成：{n} 个文件下载失败",
        "required": "今日必学",
        "optional": "选学",
        "none_required": "今天没有必学节目。",
        "none_optional": "没有选学节目。",
        "not_yet": "另有 {n} 个节目还在下载，下载完成后出现在这里。",
        "handout": "讲义 {n}（PDF）",
        "minutes": "分钟",
        "help": "用方向键选择节目，按“确定”播放，按“返回”回到列表。",
        "back": "返回列表",
        "playing": "正在播放",
        "no_player": "缺少播放组件（hls.min.js），这个浏览器也不能直接播放：联网后下一次同步会自动"
        "从服务器取回，之后刷新页面即可。",
        "play_network": "读不到本机的节目文件：可能正在同步，请稍后再试。",
        "play_media": "这个节目无法在此浏览器中播放。",
        "press_play": "按“确定”键开始播放。",
        "captions": "字幕",
        "captions_off": "不显示字幕",
        "records": "学习记录",
        "records_help": "记下每次集中学习、评价节目、提出想学的内容。记录先保存在本机，联网同步时自动上传。",
        "record_session": "记录学习",
        "rate": "评价节目",
        "request_topic": "需求调查",
        "f.started_at": "开始时间（北京时间）",
        "f.minutes": "学习时长（分钟）",
        "f.members_present": "参学人数",
        "f.programmes": "播放的节目",
        "f.no_programmes": "本机还没有节目。",
        "f.notes": "讨论记录",
        "f.photos": "照片（可选，JPEG 或 PNG；也可以用手机打开本页添加）",
        "f.programme": "节目",
        "f.stars": "评分",
        "f.comment": "评语",
        "f.topic": "想学的内容",
        "f.category": "类别",
        "f.no_category": "不确定",
        "f.detail": "具体说明",
        "f.members": "提出需求的人数",
        "save": "保存",
        "cancel": "返回",
        "star": "{n} 星",
        "form_help": "方向键移动，“确定”选中或进入下一项，“返回”键回到列表。",
        "month_records": "本月记录",
        "s.pending": "待上传",
        "s.delivered": "已上传",
        "s.refused": "被退回",
        "k.session": "学习",
        "k.photo": "照片",
        "k.rating": "评价",
        "k.demand": "需求",
        "members_n": "{n} 人",
        "saved": "已保存。",
        "saved_offline": "已保存在本机，联网同步时自动上传。",
        "photos_failed": "学习记录已保存，但照片没有保存：{}",
        "add_photos": "添加照片",
        "none_yet": "本月还没有记录。",
        "delivery_failed": "上次上传没有成功：{}",
        "not_sent": "没有保存：{}",
        "pick_stars": "请选择 1 到 5 星。",
        "faults": "故障报告",
        "faults_help": "电视、机顶盒或网络出了问题，在这里报告。报告先保存在本机，联网同步时自动送到县里，"
        "修好后这里会显示处理结果。",
        "report_fault": "报告故障",
        "f.fault_kind": "故障类型",
        "f.fault_note": "情况说明（选“其他”时必填）",
        "fault.tv_broken": "电视坏了",
        "fault.box_lost": "机顶盒丢失或损坏",
        "fault.line_down": "网络不通",
        "fault.other": "其他",
        "fs.pending": "待上传",
        "fs.delivered": "中心已收到，正在处理",
        "fs.closed": "已处理",
        "fs.refused": "被退回",
        "fault_reported_at": "报告于 {}",
        "fault_closed": "已处理：{}",
        "faults_none": "没有报告过故障。",
        "fault_saved": "故障已报告：已保存在本机，联网同步时自动上传。",
        "pick_kind": "请选择故障类型。",
        "centre_open": "中心登记的未修复故障",
        "centre_at": "中心的消息更新于 {}",
        "channel": "本站频道",
        "channel_help": "按计划时间自动播放本机已下载的节目，电视换到这个频道即可。",
        "channel_play": "收看本站频道",
        "channel_now": "正在播放",
        "channel_next": "下一个",
        "channel_week": "本周节目表",
        "channel_none": "本站频道暂无节目：节目还没有下载到本机。",
        "channel_nothing": "暂无节目",
        "channel_loop": "其余时间轮播已下载的节目",
        "channel_required": "必学时段",
        "channel_replaced": "代替《{}》（尚未下载完）",
        "left_out": "未下载的节目",
        "left_out_required": "必学",
        "weekdays": "周一 周二 周三 周四 周五 周六 周日",
        "day_format": "{weekday} {month}月{day}日",
    },
    "en": {
        "title": "Remote education · site",
        "colon": ": ",
        "paren": " ({})",
        "site": "Site",
        "other_lang": "中文",
        "sync": "Sync state",
        "verdict.complete": "Complete",
        "verdict.syncing": "Syncing",
        "verdict.missing": "Files missing",
        "verdict.none": "Not synced yet",
        "advice.complete": "Every programme is on this PC and plays even when the line is down.",
        "advice.syncing": "Downloading programmes: keep the PC on and the line connected. "
        "The programmes listed below play now.",
        "advice.missing": "{files} files ({size}) are missing. Connect the line and run "
        "mediasrv-site sync, or import from a USB drive (mediasrv-site import). "
        "The programmes listed below play now.",
        "advice.pending": "The new programme list (version {version}) still lacks {files} files ({size}) "
        "and is not in use yet. Connect the line and run mediasrv-site sync. "
        "The programmes listed below play now.",
        "advice.window": "Automatic downloads run only between {window} each day.",
        "advice.none": "This PC has no programme list yet: connect the line and run mediasrv-site sync, "
        "or import from a USB drive (mediasrv-site import DIR).",
        "fact.version": "Manifest version",
        "fact.files": "Files",
        "fact.missing": "Missing",
        "fact.last_complete": "Last complete sync",
        "fact.last_sync": "Last sync",
        "fact.disk_free": "Disk free",
        "fact.playlist": "Set-top box playlist",
        "fact.detail": "Details",
        "never": "never",
        "beijing": "Beijing time",
        "outcome.complete": "succeeded",
        "outcome.deferred": "waiting for the download window",
        "outcome.failed": "failed",
        "outcome.incomplete": "incomplete: {n} files failed to download",
        "required": "Required today",
        "optional": "Optional",
        "none_required": "Nothing is required today.",
        "none_optional": "No optional programmes.",
        "not_yet": "{n} more programmes are still downloading and appear here once complete.",
        "handout": "Handout {n} (PDF)",
        "minutes": "min",
        "help": "Choose a programme with the arrow keys, press OK to play it and Back to return.",
        "back": "Back to the list",
        "playing": "Now playing",
        "no_player": "The player component (hls.min.js) is missing and this browser cannot play HLS "
        "itself: the next sync fetches it from the server once the line is up; then reload the page.",
        "play_network": "Cannot read the programme's files on this PC: a sync may be replacing them; "
        "try again shortly.",
        "play_media": "This programme cannot be played in this browser.",
        "captions": "Captions",
        "captions_off": "Off",
        "press_play": "Press OK to start playing.",
        "records": "Study records",
        "records_help": "Record each study session, rate programmes, ask for topics. Records are kept on "
        "this PC and uploaded when the line is up.",
        "record_session": "Record a session",
        "rate": "Rate a programme",
        "request_topic": "Request a topic",
        "f.started_at": "Started at (Beijing time)",
        "f.minutes": "Minutes",
        "f.members_present": "Members present",
        "f.programmes": "Programmes played",
        "f.no_programmes": "No programmes on this PC yet.",
        "f.notes": "Discussion notes",
        "f.photos": "Photos (optional, JPEG or PNG; a phone can open this page to add them)",
        "f.programme": "Programme",
        "f.stars": "Rating",
        "f.comment": "Comment",
        "f.topic": "Topic wanted",
        "f.category": "Category",
        "f.no_category": "Not sure",
        "f.detail": "Details",
        "f.members": "Members asking",
        "save": "Save",
        "cancel": "Back",
        "star": "{n} stars",
        "form_help": "Arrows move, OK selects or goes to the next field, Back returns to the list.",
        "month_records": "This month's records",
        "s.pending": "waiting to upload",
        "s.delivered": "uploaded",
        "s.refused": "refused",
        "k.session": "Session",
        "k.photo": "Photo",
        "k.rating": "Rating",
        "k.demand": "Topic",
        "members_n": "{n} members",
        "saved": "Saved.",
        "saved_offline": "Saved on this PC; uploaded when the line is up.",
        "photos_failed": "The session is saved, but not the photos: {}",
        "add_photos": "Add photos",
        "none_yet": "No records this month yet.",
        "delivery_failed": "The last upload did not succeed: {}",
        "not_sent": "Not saved: {}",
        "pick_stars": "Choose 1 to 5 stars.",
        "faults": "Fault reports",
        "faults_help": "Report a broken TV, a set-top box or the line here. Reports are kept on this PC, "
        "sent to the county when the line is up, and what was done shows here.",
        "report_fault": "Report a fault",
        "f.fault_kind": "What is wrong",
        "f.fault_note": "Details (required for Other)",
        "fault.tv_broken": "TV broken",
        "fault.box_lost": "Set-top box lost or broken",
        "fault.line_down": "Line down",
        "fault.other": "Other",
        "fs.pending": "waiting to upload",
        "fs.delivered": "received by the centre, being handled",
        "fs.closed": "handled",
        "fs.refused": "refused",
        "fault_reported_at": "reported {}",
        "fault_closed": "handled: {}",
        "faults_none": "No faults reported.",
        "fault_saved": "Fault reported: kept on this PC and uploaded when the line is up.",
        "pick_kind": "Choose what is wrong.",
        "centre_open": "Open faults the centre has on record",
        "centre_at": "The centre's word as of {}",
        "channel": "This site's channel",
        "channel_help": "Plays the programmes on this PC at their scheduled times: just switch the TV to it.",
        "channel_play": "Watch the channel",
        "channel_now": "Now",
        "channel_next": "Next",
        "channel_week": "This week",
        "channel_none": "Nothing to play on the channel yet: its programmes are not on this PC.",
        "channel_nothing": "Nothing",
        "channel_loop": "At other times the programmes on this PC play in turn",
        "channel_required": "required time",
        "channel_replaced": "instead of {} (still downloading)",
        "left_out": "Programmes not downloaded",
        "left_out_required": "required",
        "weekdays": "Mon Tue Wed Thu Fri Sat Sun",
        "day_format": "{weekday} {day}/{month}",
    },
}
# The strings static/site.js shows (handed over as JSON, set with textContent).
SCRIPT_WORDS = (
    "no_player", "play_network", "play_media", "press_play", "minutes", "paren", "colon",
    "s.pending", "s.delivered", "s.refused", "k.session", "k.photo", "k.rating", "k.demand", "members_n",
    "saved", "saved_offline", "photos_failed", "add_photos", "none_yet", "delivery_failed", "not_sent",
    "pick_stars", "captions_off", "fault.tv_broken", "fault.box_lost", "fault.line_down", "fault.other",
    "fs.pending", "fs.delivered", "fs.closed", "fs.refused", "fault_reported_at", "fault_closed",
    "fault_saved", "pick_kind", "centre_open", "centre_at", "channel_now", "channel_next", "channel_nothing",
)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    key: str  # complete | syncing | missing | none
    files: int = 0  # missing, for `missing`
    bytes: int = 0
    pending_version: int | None = None  # a newer manifest the last sync could not finish


def sync_running(layout: Layout) -> bool:
    """Whether a sync holds the directory's lock (Layout.lock). Read from /proc/locks rather than by
    trying the lock: a probe that held it even briefly could make a starting sync give up. Elsewhere
    than Linux (or when the kernel reports another device, as overlay file systems may) this says
    False, and the page says "files missing" rather than "syncing": still true, just less precise."""
    try:
        st = (layout.root / ".lock").stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return False
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table.splitlines():
        fields = line.split()  # "1: FLOCK  ADVISORY  WRITE 4236 fe:00:2146483 0 EOF"; waiters have "->"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == key:
            return True
    return False


def assess(facts: dict[str, Any], state: AgentState, syncing: bool) -> Verdict:
    """The plain-language verdict: none (no manifest), syncing (a sync runs now), missing (files of
    the applied manifest are gone, or the last sync could not finish a newer one), else complete."""
    if facts["site"] is None:
        return Verdict("none")
    if syncing:
        return Verdict("syncing")
    if facts["missing_files"]:
        return Verdict("missing", facts["missing_files"], facts["missing_bytes"])
    last = state.last_sync or {}
    target = last.get("target_version")
    newer = isinstance(target, int) and target > facts["version"]
    if newer and not last.get("complete") and last.get("files_missing"):
        return Verdict("missing", int(last["files_missing"]), int(last.get("bytes_missing") or 0), target)
    return Verdict("complete")


def shown_size(n: int | None) -> str:
    """A byte count as the site view says it (KB, MB: protocol.sizes.PLAIN); ? when unknown."""
    return "?" if n is None else human_size(n, PLAIN)


def duration(seconds: float | None) -> str:
    """0:06, 12:34, 1:02:03 (as the server's catalogue shows durations)."""
    if seconds is None:
        return ""
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def beijing(stamp: str | None, lang: str) -> str | None:
    """An ISO time the agent recorded, as Beijing time (what the administrator's clock shows)."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.astimezone()  # recorded without an offset: the PC's own zone
    w = WORDS[lang]
    return f"{when.astimezone(CHINA):%Y-%m-%d %H:%M}" + w["paren"].format(w["beijing"])


def outcome(last: dict[str, Any] | None, lang: str) -> str | None:
    """When the last sync ended and how; a failure as agent.words says it (its technical detail is
    the 详情 line: detail())."""
    if not last:
        return None
    w = WORDS[lang]
    when = beijing(last.get("finished_at"), lang) or ""
    if last.get("complete"):
        said = w["outcome.complete"]
    elif last.get("error"):
        said = f"{w['outcome.failed']}{w['colon']}{problems.say(last.get('problem'), _lang(lang))}"
    elif last.get("deferred"):
        said = w["outcome.deferred"]
    else:
        said = w["outcome.incomplete"].format(n=len(last.get("failures") or []))
    return f"{when} {said}".strip()


def detail(last: dict[str, Any] | None) -> str | None:
    """The technical reason the last sync failed (English, as logged): for the county's technicians."""
    if not last or last.get("complete") or not last.get("error"):
        return None
    return str(last["error"])


def _lang(lang: str) -> problems.Lang:
    return "en" if lang == "en" else "zh"


def _category(code: str | None, lang: str) -> str:
    if not code:
        return ""
    names = CATEGORIES.get(code)
    return (names[0] if lang == "zh" else names[1]) if names else code


def _card(entry: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    title = escape(" ".join(str(entry["title"]).split()))  # titles may hold line breaks
    poster = (
        f'<img src="{escape(entry["poster_url"])}" alt="" width="256" height="144" loading="lazy">'
        if entry["poster_url"]
        else '<span class="noposter" aria-hidden="true"></span>'
    )
    meta = [
        f'<span class="duration">{escape(duration(entry["duration_seconds"]))}</span>'
        if entry["duration_seconds"]
        else "",
        f'<span class="category">{escape(_category(entry["category"], lang))}</span>'
        if entry["category"]
        else "",
    ]
    handouts = "".join(
        f'<a class="handout" data-nav href="{escape(url)}" target="_blank" rel="noopener">'
        f"{escape(w['handout'].format(n=n))}</a>"
        for n, url in enumerate(entry["attachments"], 1)
    )
    return (
        f'<li class="programme" data-programme-id="{escape(entry["id"])}">'
        f'<button type="button" class="play" data-nav data-src="{escape(entry["url"])}" '
        f'data-title="{title}">{poster}<span class="text"><span class="title">{title}</span>'
        f'<span class="meta">{" ".join(m for m in meta if m)}</span></span></button>'
        f"{f'<div class=attachments>{handouts}</div>' if handouts else ''}</li>"
    )


def _clock(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%H:%M")


def _slot_line(slot: dict[str, Any] | None, lang: str) -> str:
    """A slot of the guide in words: its time, title, block and what it stands in for."""
    w = WORDS[lang]
    if slot is None:
        return w["channel_nothing"]
    said = f"{_clock(slot['start'])}–{_clock(slot['end'])} {' '.join(str(slot['title']).split())}"
    if slot.get("block_title"):
        required = w["paren"].format(w["channel_required"]) if slot.get("block_required") else ""
        said += f" · {slot['block_title']}{required}"
    if slot.get("replaced_title"):
        said += " · " + w["channel_replaced"].format(slot["replaced_title"])
    return said


def _channel(guide: dict[str, Any] | None, lang: str) -> str:
    """本站频道: a button that plays it, what plays now and next, and the week's scheduled blocks
    (the loop between them in one line: it may be hundreds of short slots a day)."""
    w = WORDS[lang]
    if guide is None:
        return ""
    heading = f"<h2 id='channel-heading'>{escape(w['channel'])}</h2>"
    if guide["current"] is None and guide["next"] is None:
        return (
            f"<section class='channel' aria-labelledby='channel-heading'>{heading}"
            f"<p class='empty'>{escape(w['channel_none'])}</p></section>"
        )
    weekdays = w["weekdays"].split()
    days = []
    for day in guide["days"]:
        on = datetime.fromisoformat(day["date"])
        title = w["day_format"].format(weekday=weekdays[on.isoweekday() - 1], month=on.month, day=on.day)
        blocks = [s for s in day["slots"] if s["block_id"]]
        items = "".join(f"<li>{escape(_slot_line(s, lang))}</li>" for s in blocks)
        items += f"<li class='muted'>{escape(w['channel_loop'])}</li>"
        days.append(
            f"<details class='day'><summary data-nav>{escape(title)}</summary><ol>{items}</ol></details>"
        )
    return (
        f"<section class='channel' aria-labelledby='channel-heading'>{heading}"
        f"<p class='help'>{escape(w['channel_help'])}</p>"
        f"<button type='button' class='play channel-play' data-nav data-src='/channel.m3u8' "
        f"data-title='{escape(w['channel'])}'>{escape(w['channel_play'])}</button>"
        f"<dl class='on-air'><dt>{escape(w['channel_now'])}</dt>"
        f"<dd id='channel-now'>{escape(_slot_line(guide['current'], lang))}</dd>"
        f"<dt>{escape(w['channel_next'])}</dt>"
        f"<dd id='channel-next'>{escape(_slot_line(guide['next'], lang))}</dd></dl>"
        f"<h3>{escape(w['channel_week'])}</h3>{''.join(days)}</section>"
    )


def _group(entries: list[dict[str, Any]], key: str, empty: str, lang: str) -> str:
    w = WORDS[lang]
    cards = "".join(_card(e, lang) for e in entries)
    body = f'<ul class="programmes">{cards}</ul>' if cards else f'<p class="empty">{escape(w[empty])}</p>'
    return (
        f'<section class="group {key}" aria-labelledby="{key}-heading">'
        f'<h2 id="{key}-heading">{escape(w[key])}</h2>{body}</section>'
    )


def _left_out_item(entry: dict[str, Any], lang: str) -> str:
    w, said_in = WORDS[lang], _lang(lang)
    required = (
        f"<span class='badge'>{escape(w['left_out_required'])}</span> " if entry.get("required") else ""
    )
    advice = dropped.advice(entry, "site", said_in)
    return (
        f"<li data-programme-id='{escape(str(entry.get('id')))}' data-code='{dropped.code_of(entry)}'>"
        f"{required}{escape(dropped.line(entry, said_in))}"
        f"{f'<small class=advice>{escape(advice)}</small>' if advice else ''}</li>"
    )


def _left_out(doc: dict[str, Any] | None, lang: str) -> str:
    """未下载的节目: what the manifest leaves out and why, in protocol.dropped's words with what the
    site can do (ask the county for a larger quota, or nothing); absent when nothing is left out."""
    if doc is None:
        return ""
    entries = sorted(doc.get("dropped") or [], key=lambda d: (not d.get("required"), str(d.get("title"))))
    quota, pinned = doc.get("quota_bytes"), doc.get("pinned_bytes")
    note = ""
    if doc.get("over_quota") and isinstance(quota, int) and isinstance(pinned, int):
        said, advice = dropped.required_over(pinned, quota, "site", _lang(lang))
        note = f"<p class='alert'>{escape(said)} {escape(advice)}</p>"
    if not entries and not note:
        return ""
    items = "".join(_left_out_item(d, lang) for d in entries)
    return (
        "<section class='left-out' aria-labelledby='left-out-heading'>"
        f"<h2 id='left-out-heading'>{escape(WORDS[lang]['left_out'])}</h2>{note}"
        f"<ul class='left-out-list'>{items}</ul></section>"
    )


def _sync_panel(facts: dict[str, Any], state: AgentState, verdict: Verdict, lang: str) -> str:
    w = WORDS[lang]
    advice = w[f"advice.{verdict.key}"]
    if verdict.key == "missing":
        which = "advice.pending" if verdict.pending_version is not None else "advice.missing"
        advice = w[which].format(
            files=verdict.files, size=shown_size(verdict.bytes), version=verdict.pending_version
        )
        window = (facts.get("site") or {}).get("download_window")
        if window:
            advice += w["advice.window"].format(window=window)
    rows: list[tuple[str, str]] = []
    if facts["site"] is not None:
        present = facts["files"] - facts["missing_files"]
        rows += [
            ("version", str(facts["version"])),
            ("files", f"{present} / {facts['files']}"),
            ("missing", shown_size(facts["missing_bytes"])),
        ]
    rows.append(("last_complete", beijing(state.last_complete, lang) or w["never"]))
    said = outcome(state.last_sync, lang)
    if said:
        rows.append(("last_sync", said))
    if why := detail(state.last_sync):
        rows.append(("detail", why))
    if facts["disk_free_bytes"] is not None:
        rows.append(("disk_free", shown_size(facts["disk_free_bytes"])))
    if facts["site"] is not None:
        rows.append(("playlist", facts["playlist"]))
    listed = "".join(
        f'<div class="fact-{key}"><dt>{escape(w["fact." + key])}</dt><dd>{escape(value)}</dd></div>'
        for key, value in rows
    )
    # What static/site.js polls for: the page reloads itself when it changes (a sync finished).
    shown = escape(
        json.dumps([verdict.key, facts["version"], facts.get("missing_files")], separators=(",", ":"))
    )
    return (
        f'<section class="sync verdict-{verdict.key}" aria-labelledby="sync-heading" data-state="{shown}">'
        f'<h2 id="sync-heading">{escape(w["sync"])}</h2>'
        f'<p class="verdict"><strong id="verdict" data-verdict="{verdict.key}">'
        f"{escape(w['verdict.' + verdict.key])}</strong> "
        f'<span id="advice">{escape(advice)}</span></p><dl class="facts">{listed}</dl></section>'
    )


def _field(w: dict[str, str], name: str, control: str) -> str:
    return f"<label class='field'><span>{escape(w['f.' + name])}</span>{control}</label>"


def _choices(entries: list[dict[str, Any]], kind: str, name: str, lang: str) -> str:
    """Today's programmes as checkboxes (a session) or radio buttons (a rating): large targets."""
    w = WORDS[lang]
    if not entries:
        return f"<p class='empty'>{escape(w['f.no_programmes'])}</p>"
    return "".join(
        f"<label class='check'><input type='{kind}' name='{name}' value='{escape(e['id'])}' data-nav>"
        f"<span>{escape(' '.join(str(e['title']).split()))}"
        f"<small>{escape(w['paren'].format(e['group']))}</small></span></label>"
        for e in entries
    )


def _records(entries: list[dict[str, Any]], lang: str) -> tuple[str, str]:
    """The records section of the list (buttons, this month's records: static/site.js fills them in
    from GET /records), and the three forms, each shown alone like the player."""
    w = WORDS[lang]
    buttons = "".join(
        f"<button type='button' class='open-panel' data-nav data-panel='{panel}'>{escape(w[key])}</button>"
        for panel, key in (
            ("session-panel", "record_session"),
            ("rating-panel", "rate"),
            ("demand-panel", "request_topic"),
        )
    )
    section = (
        "<section class='records' aria-labelledby='records-heading'>"
        f"<h2 id='records-heading'>{escape(w['records'])}</h2>"
        f"<p class='help'>{escape(w['records_help'])}</p><div class='actions'>{buttons}</div>"
        "<p id='records-status' class='notice' role='status' hidden></p>"
        "<p id='delivery-error' class='alert' hidden></p>"
        f"<h3>{escape(w['month_records'])}</h3><ul id='records-list' class='records-list'></ul>"
        f"<p id='records-empty' class='empty' hidden>{escape(w['none_yet'])}</p></section>"
    )
    end = (
        "<p class='alert form-message' role='alert' hidden></p><div class='form-buttons'>"
        f"<button type='submit' class='primary' data-nav>{escape(w['save'])}</button>"
        f"<button type='button' class='cancel' data-nav>{escape(w['cancel'])}</button></div>"
    )
    stars = "".join(
        f"<button type='button' class='star' data-nav data-star='{n}' aria-pressed='false' "
        f"aria-label='{escape(w['star'].format(n=n))}'>★</button>"
        for n in range(1, 6)
    )
    categories = f"<option value=''>{escape(w['f.no_category'])}</option>" + "".join(
        f"<option value='{code}'>{escape(names[0] if lang == 'zh' else names[1])}</option>"
        for code, names in CATEGORIES.items()
    )

    def panel(panel_id: str, title: str, form: str, body: str) -> str:
        return (
            f"<section id='{panel_id}' class='panel' aria-labelledby='{panel_id}-heading' hidden>"
            f"<h2 id='{panel_id}-heading'>{escape(w[title])}</h2><p class='help'>{escape(w['form_help'])}</p>"
            f"<form id='{form}' novalidate>{body}{end}</form></section>"
        )

    panels = (
        panel(
            "session-panel",
            "record_session",
            "session-form",
            _field(w, "started_at", "<input type='datetime-local' name='started_at' required data-nav>")
            + _field(w, "minutes", "<input type='number' name='minutes' min='1' max='1440' value='60' "
                     "inputmode='numeric' required data-nav>")
            + _field(w, "members_present", "<input type='number' name='members_present' min='0' max='100000' "
                     "inputmode='numeric' required data-nav>")
            + f"<fieldset><legend>{escape(w['f.programmes'])}</legend>"
            f"{_choices(entries, 'checkbox', 'programmes', lang)}</fieldset>"
            + _field(w, "notes", "<textarea name='notes' rows='3' maxlength='10000' data-nav></textarea>")
            + _field(w, "photos", "<input type='file' name='photo' multiple accept='image/jpeg,image/png' "
                     "data-nav>"),
        )
        + panel(
            "rating-panel",
            "rate",
            "rating-form",
            f"<fieldset><legend>{escape(w['f.programme'])}</legend>"
            f"{_choices(entries, 'radio', 'programme_id', lang)}</fieldset>"
            f"<fieldset class='stars'><legend>{escape(w['f.stars'])}</legend>{stars}"
            "<input type='hidden' name='rating' value=''></fieldset>"
            + _field(w, "comment", "<textarea name='comment' rows='3' maxlength='2000' data-nav></textarea>"),
        )
        + panel(
            "demand-panel",
            "request_topic",
            "demand-form",
            _field(w, "topic", "<input type='text' name='topic' maxlength='200' required data-nav>")
            + _field(w, "category", f"<select name='category' data-nav>{categories}</select>")
            + _field(w, "detail", "<textarea name='detail' rows='3' maxlength='2000' data-nav></textarea>")
            + _field(w, "members", "<input type='number' name='members' min='1' max='10000' value='1' "
                     "inputmode='numeric' data-nav>"),
        )
    )  # fmt: skip
    return section, panels


FAULT_KINDS = ("tv_broken", "box_lost", "line_down", "other")  # mediasrv.agent.faults.KINDS


def _faults(lang: str) -> tuple[str, str]:
    """The fault reports section of the list (static/site.js fills the list from GET /faults), and
    the form to report one, shown alone like the record forms."""
    w = WORDS[lang]
    section = (
        "<section class='faults' aria-labelledby='faults-heading'>"
        f"<h2 id='faults-heading'>{escape(w['faults'])}</h2>"
        f"<p class='help'>{escape(w['faults_help'])}</p><div class='actions'>"
        f"<button type='button' class='open-panel' data-nav data-panel='fault-panel'>"
        f"{escape(w['report_fault'])}</button></div>"
        "<p id='faults-status' class='notice' role='status' hidden></p>"
        "<p id='faults-delivery-error' class='alert' hidden></p>"
        "<ul id='faults-list' class='records-list'></ul>"
        f"<p id='faults-empty' class='empty' hidden>{escape(w['faults_none'])}</p>"
        "<p id='faults-centre' class='help' hidden></p></section>"
    )
    kinds = "".join(
        f"<label class='check'><input type='radio' name='kind' value='{kind}' data-nav>"
        f"<span>{escape(w['fault.' + kind])}</span></label>"
        for kind in FAULT_KINDS
    )
    panel = (
        "<section id='fault-panel' class='panel' aria-labelledby='fault-panel-heading' hidden>"
        f"<h2 id='fault-panel-heading'>{escape(w['report_fault'])}</h2>"
        f"<p class='help'>{escape(w['form_help'])}</p><form id='fault-form' novalidate>"
        f"<fieldset><legend>{escape(w['f.fault_kind'])}</legend>{kinds}</fieldset>"
        + _field(w, "fault_note", "<textarea name='note' rows='3' maxlength='2000' data-nav></textarea>")
        + "<p class='alert form-message' role='alert' hidden></p><div class='form-buttons'>"
        f"<button type='submit' class='primary' data-nav>{escape(w['save'])}</button>"
        f"<button type='button' class='cancel' data-nav>{escape(w['cancel'])}</button></div></form></section>"
    )
    return section, panel


def render(
    facts: dict[str, Any],
    entries: list[dict[str, Any]],
    state: AgentState,
    verdict: Verdict,
    *,
    lang: str,
    site_code: str | None,
    hls_installed: bool,
    guide: dict[str, Any] | None = None,
    left_out: dict[str, Any] | None = None,
) -> str:
    """The whole page. `entries` are serve.programmes() with URLs relative to this origin; `guide`
    the channel's (agent.channel.guide_json), when there is a manifest; `left_out` the manifest
    itself (its dropped entries and quota figures), when there is one."""
    w = WORDS[lang]
    site = facts["site"] or {}
    name = escape(str(site.get("name") or w["site"]))
    code = site.get("code") or site_code
    heading = f"{name}<span class='code'>{escape(w['paren'].format(code))}</span>" if code else name
    lists = ""
    if facts["site"] is not None:
        required = [e for e in entries if e["required"]]
        optional = [e for e in entries if not e["required"]]
        waiting = facts["programmes"] - len(entries)
        note = f'<p class="waiting">{escape(w["not_yet"].format(n=waiting))}</p>' if waiting > 0 else ""
        lists = (
            _channel(guide, lang)
            + _group(required, "required", "none_required", lang)
            + _group(optional, "optional", "none_optional", lang)
            + note
            + _left_out(left_out, lang)
        )
    records_section, panels = _records(entries, lang)
    faults_section, fault_panel = _faults(lang)
    other = "en" if lang == "zh" else "zh"
    said = {k: w[k] for k in SCRIPT_WORDS} | {
        f"problem.{key}": problems.say(key, _lang(lang)) for key in problems.PROBLEMS
    }  # why the last delivery of records waits (static/site.js)
    words = json.dumps(said, ensure_ascii=True).replace("<", "\\u003c")
    hls = '<script src="/static/vendor/hls.min.js"></script>' if hls_installed else ""
    return (
        f"<!doctype html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{name} · {escape(w['title'])}</title>"
        "<link rel='stylesheet' href='/static/site.css'>"
        f"<script type='application/json' id='words'>{words}</script>{hls}"
        "<script src='/static/site.js' defer></script></head><body>"
        f"<header class='top'><div><div class='brand'>{escape(w['title'])}</div><h1>{heading}</h1></div>"
        f"<a class='lang' data-nav href='?lang={other}' hreflang='{other}'>{escape(w['other_lang'])}</a>"
        "</header>"
        f"<main id='list'>{_sync_panel(facts, state, verdict, lang)}"
        f"<p id='no-player' class='alert' role='alert' hidden></p>"
        f"<p class='help'>{escape(w['help'])}</p>{lists}{records_section}{faults_section}</main>"
        f"<section id='player' aria-labelledby='now-playing' hidden>"
        f"<h2><span class='muted'>{escape(w['playing'] + w['colon'])}</span>"
        "<span id='now-playing'></span></h2>"
        "<video id='video' data-nav controls playsinline preload='none'></video>"
        # Filled by site.js from the film's caption languages (the master's SUBTITLES group).
        f"<p id='captions-row' hidden><label for='captions'>{escape(w['captions'] + w['colon'])}</label>"
        "<select id='captions' data-nav></select></p>"
        "<p id='player-message' class='alert' role='alert' hidden></p>"
        f"<button type='button' id='back' data-nav>← {escape(w['back'])}</button></section>"
        f"{panels}{fault_panel}</body></html>"
    )
