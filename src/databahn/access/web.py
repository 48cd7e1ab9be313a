"""Web pages of the access plugin: the access card on the dataset page (with the access-request
button, DMP 2.2.5) and /access, where owners and data managers answer requests and everyone reads
their notifications. Forms carry the session's CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from databahn.access.service import AccessService
from databahn.errors import DatabahnError
from databahn.web.render import (
    DATASET_SIDE_PANELS,
    NAV_ITEMS,
    HtmlRoute,
    NavItem,
    add_template_dir,
    check_csrf_form,
    csrf_token,
    get_hub,
    principal_of,
    render,
    templates,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


def _svc(request: Request) -> AccessService:
    svc: AccessService = get_hub(request).ext["access"]
    return svc


def access_panel(request: Request, record: Any) -> Markup | None:
    info = (record.extras or {}).get("access")
    if not info:
        return None
    html = templates.env.get_template("access_panel.html").render(
        r=record, a=info, csrf=csrf_token(request), anonymous=principal_of(request).anonymous
    )
    return Markup(html)  # rendered by the autoescaping environment


@router.post("/access/request/{pid}")
async def request_access(pid: str, request: Request) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    principal = principal_of(request)
    email = str(form.get("email") or "") or None
    try:
        req = _svc(request).requests.request(principal, pid, str(form.get("reason") or ""), email=email)
        request.session["flash"] = f"Your request {req.id} was sent; you will be notified of the answer."
    except DatabahnError as exc:
        request.session["flash"] = f"Could not send the request: {exc.detail}"
    return RedirectResponse(f"/datasets/{pid}", status_code=303)


@router.get("/access")
def access_page(request: Request) -> Response:
    principal = principal_of(request)
    svc = _svc(request)
    return render(
        request,
        "access.html",
        {
            "requests": svc.requests.list(principal),
            "notes": svc.notifications(principal),
            "username": principal.username,
        },
    )


@router.post("/access/requests/{request_id}/{answer}")
async def answer(request_id: int, answer: str, request: Request) -> Response:
    form = await request.form()
    check_csrf_form(request, form)
    principal = principal_of(request)
    svc = _svc(request)
    try:
        if answer == "grant":
            until = str(form.get("until") or "") or None
            info = svc.requests.grant(
                principal, request_id, until=until, conditions=str(form.get("conditions") or "")
            )
            extra = f" Send them this link: {info.share_url}" if info.share_url else ""
            request.session["flash"] = f"Request {request_id} granted until {info.until}.{extra}"
        elif answer == "decline":
            svc.requests.decline(principal, request_id)
            request.session["flash"] = f"Request {request_id} declined."
        else:
            request.session["flash"] = "unknown answer: use grant or decline"
    except DatabahnError as exc:
        request.session["flash"] = f"Nothing changed: {exc.detail}"
    return RedirectResponse("/access", status_code=303)


def install() -> None:
    add_template_dir(TEMPLATES)
    if access_panel not in DATASET_SIDE_PANELS:
        DATASET_SIDE_PANELS.insert(0, access_panel)
    if not any(item.href == "/access" for item in NAV_ITEMS):
        NAV_ITEMS.insert(3, NavItem("Access", "/access", "user"))


install()
