"""What `mediasrv-site` tells a village administrator, in Chinese or English (--lang, else the locale).

The agent imports no server module (kit.i18n's catalogues are the server's): its command line's few
sentences are this table, key -> (中文, English), each with the same {params} in both.
"""

from __future__ import annotations

from typing import Any, Literal

Lang = Literal["zh", "en"]

WORDS: dict[str, tuple[str, str]] = {
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


def say(key: str, lang: Lang, /, **params: Any) -> str:
    return WORDS[key][0 if lang == "zh" else 1].format(**params)
