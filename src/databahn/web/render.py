"""Shared web plumbing: templates, the navigation registry, CSRF tokens and friendly HTML errors.

Pages of later capabilities plug in by appending to `NAV_ITEMS` and rendering with `render()`,
so every page shares one layout, one CSRF scheme and one error boundary.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from databahn import __version__
from databahn.errors import DatabahnError, Unauthenticated
from databahn.services.hub import Hub
from databahn.services.policy import Principal

log = logging.getLogger("databahn.web")
HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def add_template_dir(path: Path) -> None:
    """Let a plugin keep its templates in its own package (they may `{% extends "base.html" %}`)."""
    search = templates.env.loader.searchpath  # type: ignore[union-attr]
    if str(path) not in search:
        search.append(str(path))


#: Sections that plugins add to the dataset page: callables (request, VersionRecord) -> HTML or None.
#: The record they receive was already filtered by the access policy.
DATASET_PANELS: list[Callable[[Request, Any], Any]] = []
DATASET_SIDE_PANELS: list[Callable[[Request, Any], Any]] = []


def render_panels(panels: list[Callable[[Request, Any], Any]], request: Request, record: Any) -> list[Any]:
    out = []
    for panel in panels:
        html = panel(request, record)
        if html:
            out.append(html)
    return out


CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class NavItem:
    """One entry of the top navigation; `when` is 'always', 'user' (signed in) or 'admin'."""

    label: str
    href: str
    when: str = "always"

    def visible(self, principal: Principal) -> bool:
        if self.when == "admin":
            return principal.is_admin
        if self.when == "user":
            return not principal.anonymous
        return True


#: The navigation registry: later capabilities append their own NavItem here.
NAV_ITEMS: list[NavItem] = [
    NavItem("Search", "/search"),
    NavItem("Deposit", "/deposit", "user"),
    NavItem("My data", "/my", "user"),
    NavItem("Admin", "/admin", "admin"),
    NavItem("API", "/api/docs"),
]


# -- CSRF ---------------------------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (it lives in the signed session cookie)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 20:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, supplied: str | None) -> bool:
    expected = request.session.get("csrf")
    return bool(expected and supplied) and secrets.compare_digest(str(expected), str(supplied))


class CsrfRefused(DatabahnError):
    status = 403
    title = "Form expired"


def check_csrf_form(request: Request, form: Any) -> None:
    """Refuse a state-changing form POST without the session's token (hidden field)."""
    value = form.get(CSRF_FIELD)
    if not csrf_ok(request, value if isinstance(value, str) else None):
        raise CsrfRefused(
            "this form was not sent from this site or your session changed; "
            "reload the page and submit the form again"
        )


def check_csrf_header(request: Request) -> None:
    """For cookie-authenticated JSON calls with unsafe methods: require the X-CSRF-Token header.

    Meant for `databahn.api.deps.get_principal` (see the web README in the report): call it when the
    principal came from the session cookie and `request.method` is not GET/HEAD/OPTIONS."""
    if request.method in SAFE_METHODS:
        return
    if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise CsrfRefused(f"missing or wrong {CSRF_HEADER} header for a cookie-authenticated request")


# -- rendering ----------------------------------------------------------------------------------
def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def principal_of(request: Request) -> Principal:
    from databahn.api.deps import get_principal

    return get_principal(request)


def render(request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200) -> Response:
    """Render a page within the shared layout (navigation, CSRF token, signed-in user)."""
    principal = principal_of(request)
    hub = get_hub(request)
    ctx: dict[str, Any] = {
        "principal": principal,
        "nav_items": [item for item in NAV_ITEMS if item.visible(principal)],
        "csrf": csrf_token(request),
        "hub_name": hub.settings.hub_name,
        "version": __version__,
        "path": request.url.path,
        "flash": request.session.pop("flash", None),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    try:
        return render(request, "error.html", {"status": status, "title": title, "detail": detail}, status)
    except Exception:  # the layout itself failed: still answer calmly, without a traceback
        log.exception("could not render the error page")
        body = f"<!doctype html><title>{status}</title><h1>{status} {title}</h1>"
        return HTMLResponse(body, status_code=status)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?next=" + urllib.parse.quote(target, safe=""), status_code=303)


class HtmlRoute(APIRoute):
    """A route whose errors become friendly HTML pages (the app-wide handlers answer JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except Unauthenticated as exc:
                if request.method == "GET":
                    return login_redirect(request)
                return error_page(request, 401, "Please sign in", exc.detail)
            except DatabahnError as exc:
                return error_page(request, exc.status, exc.title, exc.detail)
            except RequestValidationError as exc:
                parts = [
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in exc.errors()
                ]
                return error_page(request, 400, "Bad request", "; ".join(parts) or "invalid request")
            except StarletteHTTPException as exc:
                return error_page(request, exc.status_code, "Error", str(exc.detail))
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return error_page(
                    request,
                    500,
                    "Something went wrong",
                    "the hub hit an unexpected error; it was logged for the operators — nothing was changed",
                )

        return handler


# -- template filters ---------------------------------------------------------------------------
def filesize(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def safe_next(target: str | None) -> str:
    """Only local paths may be redirect targets after sign-in (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


templates.env.filters["filesize"] = filesize
templates.env.filters["when"] = when
templates.env.filters["urlquote"] = lambda s: urllib.parse.quote(str(s), safe="/")
#: ontology IRIs shown as labels; the ontology plugin replaces this identity with the real lookup
templates.env.filters.setdefault("term_label", lambda s: s)
