"""The web pages: HTML shells rendered on the server (words, who is signed in, the CSRF token) whose
scripts call the same JSON API as every other client. No build step: templates/ and static/ are
served as they are, third-party scripts come from static/vendor/ (`python -m mediasrv.web.vendor`).

Every page declares who may open it, as API routes do; a visitor without a login is sent to /login
(and back afterwards) instead of getting a 401 body.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from mediasrv.accounts import service
from mediasrv.accounts.auth import SESSION_COOKIE, Caller, Role, current_caller, public
from mediasrv.audit.service import Action
from mediasrv.catalog.service import region_bound
from mediasrv.deps import SessionDep
from mediasrv.kit.errors import Unauthorized
from mediasrv.kit.regions import Scope
from mediasrv.media import languages
from mediasrv.sites.registry import regions_within
from mediasrv.web import i18n

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

PRODUCERS = (Role.PRODUCER, Role.ADMIN)
PEOPLE = (Role.PRODUCER, Role.ADMIN)  # who uses a browser; sites use their agent


class LoginRequired(Exception):
    """No (valid) login: the page handler sends the browser to /login."""


class PageForbidden(Exception):
    def __init__(self, caller: Caller) -> None:
        self.caller = caller


def page(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """Like auth.allow for pages: a redirect to the login page instead of 401, a page instead of 403."""

    async def check(request: Request) -> Caller:
        try:
            caller = await current_caller(request)
        except Unauthorized:
            raise LoginRequired from None
        if caller.role not in roles:
            raise PageForbidden(caller)
        return caller

    check.access_roles = roles  # type: ignore[attr-defined]  # read by the route-walking test
    return check


router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def render(
    request: Request,
    name: str,
    *,
    caller: Caller | None = None,
    csrf: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = i18n.choose(request)
    words = i18n.words(lang)
    # An administrator's scope, as /auth/session says it ('' the whole network): region pages start
    # there, their crumbs and suggestions never go above it, and the header says it.
    scope = Scope.of(caller).region if caller is not None and caller.role is Role.ADMIN else None
    data = {"lang": lang, "csrf": csrf, "role": caller.role.value if caller else None, "words": words}
    data["scope"] = scope
    data.update(context.pop("data", {}))
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": words,
            "caller": caller,
            "scope": None if scope is None else scope or words["common.whole_network"],
            "other_lang": "en" if lang == "zh" else "zh",
            # Inlined as JSON inside <script type="application/json">: no "<" at all, so neither "</"
            # nor "<!--" (from a crafted path) can end or swallow the element.
            "page_data": json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"),
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") == lang:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    # Pages carry a CSRF token and who is signed in: never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def shown_name(session: SessionDep, caller: Caller) -> str:
    """What the header calls a person: their display name (张编导), not the username they log in with."""
    if caller.user_id is None:
        return caller.name
    return service.get_user(session, caller.user_id).display_name or caller.name


def csrf_of(request: Request, caller: Caller, session: SessionDep) -> str | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if caller.via != "session" or not cookie:
        return None
    return service.session_for_cookie(session, cookie).csrf_token


PageCaller = Annotated[Caller, Depends(page(*PEOPLE))]


def safe_next(target: str | None) -> str:
    """Only a path on this server (no scheme, no host, no //): never an open redirect. Browsers read
    a backslash as a slash ("/\\evil.example" is "//evil.example"), and drop tabs and newlines."""
    if target and target.startswith("/") and not target.startswith("//") and target.isprintable():
        if "\\" in target:
            return "/"
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return "/"


@router.get("/login", dependencies=[Depends(public)])
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", data={"next": safe_next(request.query_params.get("next"))})


@router.get("/")
def home(caller: PageCaller) -> Response:
    """Each role's first page."""
    return RedirectResponse("/ui/upload" if caller.role is Role.PRODUCER else "/ui/catalog", status_code=303)


ADMINS = (Role.ADMIN,)
# path -> (template, who may open it). A page's template loads its own script, static/<name>.js.
PAGES: dict[str, tuple[str, tuple[Role, ...]]] = {
    "/ui/catalog": ("catalog.html", PEOPLE),
    "/ui/programmes/{programme_id}": ("programme.html", PEOPLE),
    "/ui/upload": ("upload.html", PRODUCERS),
    "/ui/uploads": ("uploads.html", PRODUCERS),  # 我的上传: the uploads and their states
    "/ui/admin": ("admin.html", ADMINS),
    "/ui/admin/study-lists": ("study_lists.html", ADMINS),
    "/ui/admin/programmes": ("programmes.html", ADMINS),
    "/ui/admin/sites": ("sites.html", ADMINS),
    "/ui/admin/accounts": ("accounts.html", ADMINS),
    "/ui/admin/audit": ("audit.html", ADMINS),
    "/ui/admin/compliance": ("compliance.html", ADMINS),
    "/ui/admin/sites/{site_id}/study": ("site_study.html", ADMINS),
    "/ui/admin/assessment": ("assessment.html", ADMINS),
    "/ui/admin/feedback": ("feedback.html", ADMINS),
}


def publication_regions(session: SessionDep, caller: Caller) -> dict[str, Any]:
    """Where the caller may make or publish programmes for (an administrator's scope, a producer's
    department's region) and the regions with sites inside it, as the region field's suggestions:
    nothing outside the bound is offered."""
    bound = region_bound(session, caller)
    return {"region_bound": bound, "regions": regions_within(session, bound)}


def site_languages(_session: SessionDep, _caller: Caller) -> dict[str, Any]:
    """The languages a site or a region may choose, [tag, Chinese name], for the pages' checkboxes:
    every one media.languages carries but Mandarin, which every site holds."""
    offered = [[tag, name] for tag, name in languages.NAMES.items() if tag not in ("zh", "zh-Hans")]
    return {"languages": offered}


# What a page's script needs from the server's own lists, so that it keeps none of its own.
PAGE_DATA: dict[str, Callable[[SessionDep, Caller], dict[str, Any]]] = {
    "audit.html": lambda _session, _caller: {"actions": [action.value for action in Action]},
    "upload.html": publication_regions,
    "programmes.html": publication_regions,
    "programme.html": publication_regions,
    "sites.html": site_languages,
    "site_study.html": site_languages,
}


def _nothing(_session: SessionDep, _caller: Caller) -> dict[str, Any]:
    return {}


def _page_route(template: str, roles: tuple[Role, ...]) -> Callable[..., HTMLResponse]:
    # A default, not Annotated[...]: string annotations are resolved in module scope, not in here.
    guard = Depends(page(*roles))

    def show(request: Request, session: SessionDep, caller: Caller = guard) -> HTMLResponse:
        return render(
            request,
            template,
            caller=caller,
            csrf=csrf_of(request, caller, session),
            who=shown_name(session, caller),
            data={"params": dict(request.path_params), **PAGE_DATA.get(template, _nothing)(session, caller)},
        )

    return show


for _path, (_template, _roles) in PAGES.items():
    router.get(_path, name=_template.removesuffix(".html"))(_page_route(_template, _roles))


def install(app: FastAPI) -> None:
    """Pages, static files and the two page-only answers (login redirect, refusal page)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def refused(request: Request, exc: PageForbidden) -> Response:
        return render(request, "refused.html", caller=exc.caller, status_code=403)
