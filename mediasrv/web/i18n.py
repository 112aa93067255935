"""The pages' words, Chinese first, English second. One dictionary: templates use it through `t`, and
the pages' scripts get the same words (`page-data`), so a label is translated in one place."""

from __future__ import annotations

from typing import Literal

from starlette.requests import Request

Lang = Literal["zh", "en"]
LANG_COOKIE = "mediasrv_lang"

# key -> (zh, en). Keys are dotted by page; `common.` ones are on every page.
WORDS: dict[str, tuple[str, str]] = {
    "common.app": ("党员远程教育媒体库", "Party education media library"),
    "common.skip": ("跳到正文", "Skip to content"),
    "common.catalog": ("节目库", "Catalogue"),
    "common.upload": ("上传", "Upload"),
    "common.admin": ("管理", "Administration"),
    "common.logout": ("退出", "Log out"),
    "common.language": ("English", "中文"),  # the link to the *other* language
    "common.loading": ("正在加载…", "Loading…"),
    "common.save": ("保存", "Save"),
    "common.cancel": ("取消", "Cancel"),
    "common.error": ("出错了", "Something went wrong"),
    "common.network": (
        "网络中断，请检查网络后重试。",
        "The network is down: check the connection and try again.",
    ),
    "common.forbidden": ("您没有权限打开此页。", "You may not open this page."),
    "common.signed_in_as": ("当前用户", "Signed in as"),
    "page.catalog": ("节目库", "Catalogue"),
    "page.programme": ("节目", "Programme"),
    "page.upload": ("上传节目", "Upload"),
    "page.admin": ("管理", "Administration"),
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("用户名或密码不正确。", "Wrong username or password."),
}


def choose(request: Request) -> Lang:
    """?lang= (remembered in a cookie), else the cookie, else the browser's first choice; Chinese
    unless the browser prefers English."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in ("zh", "en"):
            return value  # type: ignore[return-value]
    accept = request.headers.get("accept-language", "").strip().lower()
    return "en" if accept.startswith("en") else "zh"


def words(lang: Lang) -> dict[str, str]:
    i = 0 if lang == "zh" else 1
    return {key: pair[i] for key, pair in WORDS.items()}
