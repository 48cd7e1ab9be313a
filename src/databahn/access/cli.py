"""CLI of the access plugin: `databahn group ...`, `databahn access ...`, `databahn audit`.

Client commands talk to a running hub with DATABAHN_URL / DATABAHN_TOKEN (or --url/--token), so a
command refused for lack of rights exits non-zero with the hub's message; `access lift-embargoes`
runs server side like `reindex`.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from databahn.cli.main import (
    JsonOpt,
    TokenOpt,
    UrlOpt,
    err,
    errors_as_messages,
    fail,
    open_hub,
    out,
    print_json,
)
from databahn.client import Client

group_app = typer.Typer(
    no_args_is_help=True, help="Groups: consortium, work packages, partners, stakeholders."
)
access_app = typer.Typer(no_args_is_help=True, help="Access requests, grants, share links and openness.")


def _call(url: str | None, token: str | None, method: str, path: str, **kwargs: Any) -> Any:
    with Client(url, token) as client:
        return client._json(method, path, **kwargs)


@group_app.command("add")
def group_add(
    name: str,
    member: Annotated[list[str] | None, typer.Option("--member", help="user name (repeatable)")] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="consortium, work_package, partner or stakeholder")
    ] = "stakeholder",
    title: Annotated[str | None, typer.Option("--title")] = None,
    organisation: Annotated[str | None, typer.Option("--organisation")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Create a group (admins and data managers)."""
    body = {"name": name, "kind": kind, "title": title, "members": member or [], "organisation": organisation}
    with errors_as_messages():
        group = _call(url, token, "POST", "/api/groups", json=body)
    out.print(
        f"created group [bold]{group['name']}[/] ({group['kind']}) with {len(group['members'])} member(s)"
    )


@group_app.command("member-add")
def group_member_add(
    group: str,
    user: str,
    leader: Annotated[bool, typer.Option("--leader", help="make them the group's leader")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Add a person to a group (admins, data managers, the group's leaders)."""
    with errors_as_messages():
        info = _call(
            url, token, "POST", f"/api/groups/{group}/members", json={"username": user, "leader": leader}
        )
    out.print(f"{user} is now in {info['name']} ({len(info['members'])} member(s))")


@group_app.command("list")
def group_list(as_json: JsonOpt = False, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """List groups and their members."""
    with errors_as_messages():
        groups = _call(url, token, "GET", "/api/groups")
    if as_json:
        print_json(groups)
        return
    table = Table("group", "kind", "members", "leaders")
    for g in groups:
        table.add_row(g["name"], g["kind"], ", ".join(g["members"]), ", ".join(g["leaders"]))
    out.print(table)


@group_app.command("org-add")
def org_add(
    name: str,
    ror: Annotated[str | None, typer.Option("--ror", help="ROR id, e.g. https://ror.org/04qtj9h94")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Register a partner organisation (admins and data managers); use it with `group add --organisation`."""
    with errors_as_messages():
        org = _call(url, token, "POST", "/api/organisations", json={"name": name, "ror": ror})
    out.print(f"registered organisation {org['name']}" + (f" ({org['ror']})" if org["ror"] else ""))


@access_app.command("request")
def access_request(
    pid: str,
    reason: Annotated[str, typer.Option("--reason", help="why you need access")],
    email: Annotated[str | None, typer.Option("--email", help="where to answer (without an account)")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Ask for access to a dataset; prints the request id."""
    with errors_as_messages():
        req = _call(
            url,
            token,
            "POST",
            f"/api/datasets/{pid}/access-requests",
            json={"reason": reason, "email": email},
        )
    err.print(f"request {req['id']} sent for {req['pid']}; you will be notified of the answer")
    sys.stdout.write(f"{req['id']}\n")


@access_app.command("list")
def access_list(
    as_json: JsonOpt = False,
    state: Annotated[str | None, typer.Option("--state", help="pending, granted, declined, expired")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Requests you made and requests you may answer."""
    with errors_as_messages():
        rows = _call(url, token, "GET", "/api/access/requests", params={"state": state} if state else None)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "dataset", "who", "state", "until", "reason")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["pid"],
            r["requester"] or r["email"] or "",
            r["state"],
            r["until"] or "",
            r["reason"][:60],
        )
    out.print(table)


@access_app.command("grant")
def access_grant(
    request_id: int,
    until: Annotated[str | None, typer.Option("--until", help="YYYY-MM-DD (default: 180 days)")] = None,
    conditions: Annotated[str | None, typer.Option("--conditions")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Grant an access request (owner, data manager)."""
    with errors_as_messages():
        info = _call(
            url,
            token,
            "POST",
            f"/api/access/requests/{request_id}/grant",
            json={"until": until, "conditions": conditions},
        )
    out.print(f"granted request {info['id']} for {info['pid']} until {info['until']}")
    if info.get("share_url"):
        out.print(f"the requester has no account; their personal link: {info['share_url']}", highlight=False)


@access_app.command("decline")
def access_decline(
    request_id: int,
    note: Annotated[str | None, typer.Option("--note", help="told to the requester")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Decline an access request (owner, data manager)."""
    with errors_as_messages():
        info = _call(url, token, "POST", f"/api/access/requests/{request_id}/decline", json={"note": note})
    out.print(f"declined request {info['id']} for {info['pid']}")


@access_app.command("link")
def access_link(
    pid: str,
    days: Annotated[int, typer.Option("--days", help="valid for N days")] = 30,
    label: Annotated[str | None, typer.Option("--label", help="e.g. 'reviewers of paper X'")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Make a secret link (e.g. for a paper's reviewers); the URL is printed once."""
    with errors_as_messages():
        link = _call(
            url, token, "POST", f"/api/datasets/{pid}/share-links", json={"days": days, "label": label}
        )
    err.print(f"share link {link['id']} for {link['pid']}, expires {link['expires_at'][:10]}")
    sys.stdout.write(link["url"] + "\n")


@access_app.command("set")
def access_set(
    pid: str,
    access: Annotated[str | None, typer.Option("--access", help="public, restricted or confidential")] = None,
    share_with: Annotated[
        list[str] | None, typer.Option("--share-with", help="group or user (repeatable)")
    ] = None,
    metadata_only: Annotated[
        bool | None, typer.Option("--metadata-only/--files-open", help="announce metadata only")
    ] = None,
    embargo_until: Annotated[str | None, typer.Option("--embargo-until", help="YYYY-MM-DD")] = None,
    embargo_reason: Annotated[str | None, typer.Option("--embargo-reason")] = None,
    lift_embargo: Annotated[bool, typer.Option("--lift-embargo")] = False,
    contact: Annotated[str | None, typer.Option("--contact", help="e-mail shown with announcements")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Change who may read a version, also after publication (owner, data manager)."""
    body: dict[str, Any] = {
        "access": access,
        "share_with": share_with,
        "metadata_only": metadata_only,
        "embargo_until": embargo_until,
        "embargo_reason": embargo_reason,
        "lift_embargo": lift_embargo,
        "contact": contact,
    }
    with errors_as_messages():
        after = _call(url, token, "PATCH", f"/api/datasets/{pid}/openness", json=body)
    out.print(
        f"{pid}: {after['access']}"
        + (" (metadata only)" if after["metadata_only"] else "")
        + (f", embargo until {after['embargo_until']}" if after["embargo_until"] else "")
        + (f", shared with {', '.join(after['shared_with'])}" if after["shared_with"] else "")
    )


@access_app.command("role")
def access_role(
    user: str,
    role: Annotated[str, typer.Argument(help="data_manager, member or guest")],
    remove: Annotated[bool, typer.Option("--remove")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Give or take a hub-wide role (administrators)."""
    with errors_as_messages():
        res = _call(url, token, "DELETE" if remove else "PUT", f"/api/users/{user}/roles/{role}")
    out.print(f"{user}: roles {', '.join(res['roles']) or '(none)'}")


@access_app.command("lift-embargoes")
def access_lift() -> None:
    """Lift embargoes whose date has come and expire old grants (server side; also runs by itself)."""
    from databahn.access.plugin import lift_expired_embargoes

    with errors_as_messages():
        result = lift_expired_embargoes(open_hub())
    out.print(f"lifted {result['embargoes_lifted']} embargo(es), expired {result['grants_expired']} grant(s)")


def audit_cmd(
    as_json: JsonOpt = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="export as CSV")] = False,
    q: Annotated[str | None, typer.Option("--q", help="text to look for")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="e.g. read., request., access.change")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="user name")] = None,
    target: Annotated[str | None, typer.Option("--target", help="PID prefix, group:X, user:Y")] = None,
    since: Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 200,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Search the audit log (administrators and data managers)."""
    if as_json and csv_out:
        fail("choose one of --json and --csv")
    params = {"q": q, "action": action, "actor": actor, "target": target, "since": since, "limit": limit}
    params = {k: v for k, v in params.items() if v is not None}
    with errors_as_messages(), Client(url, token) as client:
        if csv_out:
            sys.stdout.write(client._request("GET", "/api/audit", params={**params, "format": "csv"}).text)
            return
        rows = client._json("GET", "/api/audit", params=params)
    if as_json:
        print_json(rows)
        return
    table = Table("when", "who", "action", "target", "detail")
    for r in rows:
        detail = ", ".join(f"{k}={v}" for k, v in (r["detail"] or {}).items())
        table.add_row(r["at"][:19], r["actor"] or "system", r["action"], r["target"] or "", detail[:80])
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(group_app, name="group")
    app.add_typer(access_app, name="access")
    app.command("audit")(audit_cmd)
