"""JSON API of the access plugin. Thin: one service call per route."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from databahn.access.service import AccessService
from databahn.api.deps import get_hub, get_principal
from databahn.errors import Forbidden, Unauthenticated
from databahn.services.hub import Hub
from databahn.services.policy import Principal

router = APIRouter(prefix="/api", tags=["access"])
links_router = APIRouter(tags=["access"])
HubDep = Annotated[Hub, Depends(get_hub)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def access_of(hub: Hub) -> AccessService:
    svc: AccessService = hub.ext["access"]
    return svc


class GroupIn(BaseModel):
    name: str
    kind: str = "stakeholder"
    title: str | None = None
    members: list[str] = Field(default_factory=list)
    organisation: str | None = None


class MemberIn(BaseModel):
    username: str
    leader: bool = False


class OrganisationIn(BaseModel):
    name: str
    ror: str | None = None


class OpennessIn(BaseModel):
    access: str | None = Field(None, description="public, restricted or confidential")
    metadata_only: bool | None = None
    embargo_until: dt.date | None = None
    embargo_reason: str | None = None
    lift_embargo: bool = False
    share_with: list[str] | None = Field(None, description="group or user names (group:X, user:Y)")
    contact: str | None = None


class RequestIn(BaseModel):
    reason: str
    email: str | None = Field(None, description="required without an account")


class GrantIn(BaseModel):
    until: dt.date | None = None
    conditions: str | None = None


class DeclineIn(BaseModel):
    note: str | None = None


class LinkIn(BaseModel):
    days: int = 30
    label: str | None = None


@router.get("/access/me")
def my_access(hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    svc = access_of(hub)
    groups = [g.name for g in svc.list_groups(principal) if principal.username in g.members]
    return {"username": principal.username, "roles": svc.roles_of(principal), "groups": groups}


@router.get("/groups")
def list_groups(hub: HubDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return [g.__dict__ for g in access_of(hub).list_groups(principal)]


@router.post("/groups", status_code=201)
def add_group(body: GroupIn, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return (
        access_of(hub)
        .add_group(
            principal,
            body.name,
            kind=body.kind,
            title=body.title,
            members=body.members,
            organisation=body.organisation,
        )
        .__dict__
    )


@router.post("/groups/{name}/members")
def add_member(name: str, body: MemberIn, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return access_of(hub).add_member(principal, name, body.username, leader=body.leader).__dict__


@router.delete("/groups/{name}/members/{username}")
def remove_member(name: str, username: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return access_of(hub).remove_member(principal, name, username).__dict__


@router.post("/organisations", status_code=201)
def add_organisation(body: OrganisationIn, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return access_of(hub).add_organisation(principal, body.name, ror=body.ror)


@router.put("/users/{username}/roles/{role}")
def add_role(username: str, role: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"username": username, "roles": access_of(hub).set_role(principal, username, role)}


@router.delete("/users/{username}/roles/{role}")
def remove_role(username: str, role: str, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"username": username, "roles": access_of(hub).set_role(principal, username, role, remove=True)}


@router.patch("/datasets/{pid}/openness")
def change_openness(pid: str, body: OpennessIn, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    """Change who may read a version (published ones too): owner, data managers, admins."""
    return access_of(hub).set_openness(
        principal,
        pid,
        access=body.access,
        metadata_only=body.metadata_only,
        embargo_until=body.embargo_until,
        embargo_reason=body.embargo_reason,
        lift_embargo=body.lift_embargo,
        share_with=body.share_with,
        contact=body.contact,
    )


@router.post("/datasets/{pid}/access-requests", status_code=201)
def request_access(pid: str, body: RequestIn, hub: HubDep, principal: PrincipalDep) -> dict[str, Any]:
    return access_of(hub).requests.request(principal, pid, body.reason, email=body.email).__dict__


@router.get("/access/requests")
def list_requests(
    hub: HubDep, principal: PrincipalDep, state: str | None = Query(None)
) -> list[dict[str, Any]]:
    return [r.__dict__ for r in access_of(hub).requests.list(principal, state=state)]


@router.post("/access/requests/{request_id}/grant")
def grant(
    request_id: int, hub: HubDep, principal: PrincipalDep, body: GrantIn | None = None
) -> dict[str, Any]:
    body = body or GrantIn()
    return (
        access_of(hub)
        .requests.grant(principal, request_id, until=body.until, conditions=body.conditions)
        .__dict__
    )


@router.post("/access/requests/{request_id}/decline")
def decline(
    request_id: int, hub: HubDep, principal: PrincipalDep, body: DeclineIn | None = None
) -> dict[str, Any]:
    return access_of(hub).requests.decline(principal, request_id, note=(body or DeclineIn()).note).__dict__


@router.post("/datasets/{pid}/share-links", status_code=201)
def create_link(pid: str, hub: HubDep, principal: PrincipalDep, body: LinkIn | None = None) -> dict[str, Any]:
    body = body or LinkIn()
    return access_of(hub).create_link(principal, pid, days=body.days, label=body.label).__dict__


@router.delete("/share-links/{link_id}", status_code=204)
def revoke_link(link_id: int, hub: HubDep, principal: PrincipalDep) -> Response:
    access_of(hub).revoke_link(principal, link_id)
    return Response(status_code=204)


@router.get("/notifications")
def notifications(hub: HubDep, principal: PrincipalDep, unread: bool = False) -> list[dict[str, Any]]:
    return access_of(hub).notifications(principal, unread_only=unread)


@router.post("/notifications/{notification_id}/read", status_code=204)
def mark_read(notification_id: int, hub: HubDep, principal: PrincipalDep) -> Response:
    access_of(hub).mark_read(principal, notification_id)
    return Response(status_code=204)


@router.get("/audit")
def audit(
    hub: HubDep,
    principal: PrincipalDep,
    q: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    limit: int = 200,
    format: str = "json",
) -> Response:
    """Search the audit log (admins, data managers); `format=csv` exports it."""
    log = access_of(hub).audit
    rows = log.search(
        principal, q=q, action=action, actor=actor, target=target, since=since, until=until, limit=limit
    )
    body = log.export(rows, format)
    media = "text/csv" if format == "csv" else "application/json"
    headers = {"Content-Disposition": "attachment; filename=audit.csv"} if format == "csv" else None
    return Response(body, media_type=media, headers=headers)


@router.post("/access/lift-embargoes")
def lift_embargoes(hub: HubDep, principal: PrincipalDep) -> dict[str, int]:
    if not principal.is_admin:
        raise Forbidden("only administrators may run the embargo job by hand (it also runs by itself)")
    return access_of(hub).lift_expired()


@links_router.get("/s/{secret}", include_in_schema=False)
def open_share_link(secret: str, request: Request, hub: HubDep) -> Response:
    """A reviewer's secret link: remember it in the signed session, then show the dataset."""
    try:
        _vid, pid = access_of(hub).link_version(secret)
    except Unauthenticated as exc:
        if "text/html" not in request.headers.get("accept", ""):
            raise
        from databahn.web.render import error_page

        return error_page(request, 401, "This link no longer works", exc.detail)
    links = [x for x in request.session.get("share_links", []) if x != secret][-9:]
    request.session["share_links"] = [*links, secret]
    return RedirectResponse(f"/datasets/{pid}", status_code=303)
