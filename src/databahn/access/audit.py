"""The audit trail: who changed what, permission changes, and who read withheld data.

Changes are written by the services in their own transactions (`DatasetService.audit`). Reads of
data that is not open to everyone are recorded by `ReadAuditMiddleware` after a successful answer,
so every read path (record, files, downloads) is covered without touching the core routes.
Admins and data managers search and export the log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from databahn.db.models import AuditEvent, User
from databahn.errors import DatabahnError, Forbidden, InvalidInput
from databahn.services.policy import ANONYMOUS, Action, Principal, can
from databahn.services.users import require_user

if TYPE_CHECKING:
    from databahn.access.service import AccessService
    from databahn.services.hub import Hub

log = logging.getLogger("databahn.access.audit")
READ_PATH = re.compile(r"^/api/datasets/(?P<pid>[^/]+)(?P<files>/files(?:/.*)?)?$")


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    actor: str | None
    action: str
    target: str | None
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


class AuditLog:
    def __init__(self, access: AccessService) -> None:
        self.access = access
        self.hub = access.hub

    def search(
        self,
        principal: Principal,
        *,
        q: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
        limit: int = 200,
    ) -> list[AuditRow]:
        require_user(principal, "read")
        if not 1 <= limit <= 10000:
            raise InvalidInput("limit must be between 1 and 10000")
        with self.hub.read() as s:
            if not (principal.is_admin or self.access.has_role(s, principal, "data_manager")):
                raise Forbidden("only administrators and data managers may read the audit log")
            stmt = select(AuditEvent, User.username).outerjoin(User, User.id == AuditEvent.actor_id)
            if action:
                stmt = stmt.where(AuditEvent.action.startswith(action))
            if actor:
                stmt = stmt.where(User.username == actor)
            if target:
                stmt = stmt.where(AuditEvent.target.startswith(target))
            if since:
                stmt = stmt.where(AuditEvent.at >= dt.datetime.combine(since, dt.time(), dt.UTC))
            if until:
                stmt = stmt.where(
                    AuditEvent.at < dt.datetime.combine(until + dt.timedelta(1), dt.time(), dt.UTC)
                )
            if q:
                like = f"%{q.lower()}%"
                stmt = stmt.where(
                    or_(
                        AuditEvent.action.ilike(like),
                        AuditEvent.target.ilike(like),
                        User.username.ilike(like),
                        cast(AuditEvent.detail, String).ilike(like),
                    )
                )
            rows = s.execute(stmt.order_by(AuditEvent.id.desc()).limit(limit)).all()
            return [
                AuditRow(e.id, e.at, username, e.action, e.target, dict(e.detail or {}))
                for e, username in rows
            ]

    @staticmethod
    def export(rows: list[AuditRow], fmt: str = "json") -> str:
        if fmt == "json":
            return json.dumps([r.as_dict() for r in rows], indent=2, default=str)
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(["id", "at", "actor", "action", "target", "detail"])
            for r in rows:
                writer.writerow(
                    [
                        r.id,
                        r.at.isoformat(),
                        r.actor or "",
                        r.action,
                        r.target or "",
                        json.dumps(r.detail, default=str),
                    ]
                )
            return buf.getvalue()
        raise InvalidInput(f"unknown export format {fmt!r}; use json or csv")

    def record_read(self, principal: Principal, pid: str, what: str, path: str) -> None:
        """Audit a successful read if the version is withheld from the general public."""
        with self.hub.read() as s:
            try:
                version = self.hub.datasets._load_version(s, pid, principal)
            except DatabahnError:
                return
            if principal.user_id is not None and version.dataset.owner_id == principal.user_id:
                return  # owners reading their own data are not news
            vpid, access = version.pid, version.access
            withheld = access != "public" or version.state != "published"
            if what == "files":
                withheld = withheld or not can(ANONYMOUS, Action.read_files, version)
        if not withheld:
            return
        with self.hub.write() as s:
            self.hub.datasets.audit(s, principal, f"read.{what}", vpid, access=access, path=path[:300])


class ReadAuditMiddleware:
    """After a successful GET/HEAD of a record or file, note who read withheld data (pure ASGI, so
    streamed downloads and uploads pass through untouched)."""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        m = READ_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if m is None or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        status: dict[str, int] = {}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        principal = (scope.get("state") or {}).get("principal")
        access = self.hub.ext.get("access")
        if status.get("code") in (200, 206) and principal is not None and access is not None:
            what = "files" if m.group("files") else "metadata"
            try:
                await run_in_threadpool(
                    access.audit.record_read, principal, m.group("pid"), what, scope["path"]
                )
            except Exception:  # auditing must never break a read that was allowed
                log.exception("could not audit a read of %s", scope["path"])
