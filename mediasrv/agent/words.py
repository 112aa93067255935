"""What the site agent says about its own troubles, in words a village site administrator can act on.

A failure of the agent (a sync that stopped, a delivery that waits) is a *problem*: a short key, kept
in state.json and the outboxes' delivery files beside the technical detail (English, for the county's
technicians and the log). The site view and the command line show the problem's sentence in the
reader's language (Chinese first) and the detail only as a 详情 line. The agent imports only itself
and protocol, so its texts live here rather than in the server's catalogues.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

# problem -> (中文, English): what happened and what to do, never how the network library calls it.
PROBLEMS: dict[str, tuple[str, str]] = {
    "unreachable": (
        "暂时连不上县里的服务器，会自动重试；本机节目照常播放。",
        "The county server cannot be reached for now; the agent keeps retrying, and the programmes on "
        "this PC play as usual.",
    ),
    "token": (
        "县里的服务器不再接受本站点的令牌（已被吊销或已过期）：请联系县里重新发放站点令牌。"
        "本机节目照常播放。",
        "The county server no longer accepts this site's token (revoked or expired): ask the county for "
        "a new site token. The programmes on this PC play as usual.",
    ),
    "server_error": (
        "县里的服务器出了故障，会自动重试；如果一直这样，请联系县里。本机节目照常播放。",
        "The county server has a fault; the agent keeps retrying. If this lasts, contact the county. "
        "The programmes on this PC play as usual.",
    ),
    "busy": (
        "县里的服务器正忙，稍后会自动重试。",
        "The county server is busy; the agent retries shortly.",
    ),
    "not_mediasrv": (
        "连到的不是县里的服务器：网络可能要求先登录（例如无线网的登录页面），或服务器地址变了。"
        "请检查网络，或联系县里。",
        "What answered is not the county server: the network may want a login first (a WiFi login "
        "page), or the server's address changed. Check the network, or contact the county.",
    ),
    "signature": (
        "收到的节目单签名不对，已拒收：可能在传输中被改动，或县里的服务器更换了密钥。请联系县里。",
        "The programme list's signature is wrong, so it was not accepted: it was altered on the way, or "
        "the county server's key changed. Contact the county.",
    ),
    "refused": (
        "县里的服务器拒绝了本站点的同步请求：请联系县里，并告诉他们下面的详情。",
        "The county server refused this site's sync: contact the county and give them the details below.",
    ),
    "disk_full": (
        "本机硬盘已满，节目下载不下来：请删除不用的文件腾出空间，或请县里调低本站点的存储配额。",
        "This PC's disk is full, so programmes cannot be downloaded: delete unneeded files, or ask the "
        "county to lower this site's storage quota.",
    ),
    "upgrade": (
        "本机的站点程序版本太旧，读不懂新的节目单：请升级 mediasrv-site。",
        "This PC's site program is too old to read the new programme list: upgrade mediasrv-site.",
    ),
    "stopped": (
        "同步中途停止了（关机、手动停止，或已过下载时段），下次同步会接着下载。",
        "The sync stopped part-way (shut down, stopped by hand, or the download window closed); the next "
        "sync continues where it left off.",
    ),
    "other": (
        "同步没有完成：请联系县里，并告诉他们下面的详情。",
        "The sync did not finish: contact the county and give them the details below.",
    ),
}

# The command line's own lines: key -> (中文, English), the same {params} in both.
LINES: dict[str, tuple[str, str]] = {
    "unreachable": (
        "暂时连不上县里的服务器（{server}），会自动重试；本机节目照常播放。请检查本机网络，一直连不上请联系县里。",
        "The county's server ({server}) cannot be reached for now; the sync is retried by itself and this "
        "site's programmes keep playing. Check this PC's network; if it lasts, call the county.",
    ),
    "init_unreachable": (
        "连不上服务器 {server}：请检查地址和本机网络。",
        "Cannot reach {server}: check the address and this PC's network.",
    ),
    "init_done": (
        "{dir} 已设置为 {server} 的站点 {code}（编号 {site_id}）。",
        "{dir} is set up for site {code} (id {site_id}) of {server}.",
    ),
    "init_next": (
        "下一步：先运行一次 {sync}，再把 {daemon} 设为开机自动运行的服务。",
        "Next: run {sync} once, then {daemon} as a service.",
    ),
    "beijing_time": ("{clock}（北京时间）", "{clock} Beijing time"),
}


def line(key: str, lang: Lang, /, **params: object) -> str:
    """One of the command line's lines in `lang`."""
    return LINES[key][0 if lang == "zh" else 1].format(**params)


def problem_of(exc: BaseException) -> str:
    """The problem an exception of the agent stands for (its class's `problem`), else "other"."""
    problem = getattr(exc, "problem", None)
    return problem if isinstance(problem, str) and problem in PROBLEMS else "other"


def say(problem: str | None, lang: Lang = "zh") -> str:
    """The sentence of a problem in `lang`; an unknown (or missing) one reads as "other"."""
    pair = PROBLEMS.get(problem or "other", PROBLEMS["other"])
    return pair[0 if lang == "zh" else 1]


def explain(exc: BaseException, lang: Lang = "zh") -> str:
    """What to tell the administrator about `exc`: its problem's sentence (the detail is str(exc))."""
    return say(problem_of(exc), lang)


def problem_of_status(status: int) -> str:
    """The problem an HTTP status of the server stands for, when it says "not now" or "not you"."""
    if status in (401, 403):
        return "token"
    if status == 429:
        return "busy"
    if status in (408, 425, 502, 503, 504):
        return "unreachable"  # the server, or the way to it, is down for now
    if status >= 500:
        return "server_error"
    return "refused"
