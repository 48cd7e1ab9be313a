"""Access requests (DMP 2.2.5): anyone asks with a justification; the owner or a data manager grants
(until a date, with optional conditions) or declines; both sides are notified. A granted request is
the grant the policy honours (`policy.Granted`); a requester without an account gets a share link.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from databahn.access.models import AccessRequest, ShareLink, UserRole
from databahn.access.notify import Outbox
from databahn.access.service import (
    DEFAULT_GRANT_DAYS,
    LINK_PREFIX,
    RequestInfo,
    hash_link,
    parse_date,
    today,
)
from databahn.db.models import Dataset, User, Version, utcnow
from databahn.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from databahn.services.policy import Action, Principal, can
from databahn.services.users import EMAIL_RE, require_user

if TYPE_CHECKING:
    from databahn.access.service import AccessService


class AccessRequests:
    def __init__(self, access: AccessService) -> None:
        self.access = access
        self.hub = access.hub

    def _info(self, s: Session, req: AccessRequest, share_url: str | None = None) -> RequestInfo:
        version = s.get(Version, req.version_id)
        assert version is not None
        requester = s.get(User, req.requester_id) if req.requester_id else None
        return RequestInfo(
            id=req.id,
            pid=version.pid,
            title=str((version.meta or {}).get("title", "")),
            requester=requester.username if requester else None,
            email=req.email if requester is None else requester.email,
            reason=req.reason,
            state=req.state,
            until=req.until,
            conditions=req.conditions,
            created=req.created,
            decided_at=req.decided_at,
            share_url=share_url,
        )

    def _deciders(self, s: Session, version: Version) -> list[int]:
        dataset = s.get(Dataset, version.dataset_id)
        ids = [dataset.owner_id] if dataset else []
        if version.access != "confidential":
            ids += list(s.scalars(select(UserRole.user_id).where(UserRole.role == "data_manager")))
        return list(dict.fromkeys(ids))

    def request(
        self, principal: Principal, pid: str, reason: str, *, email: str | None = None
    ) -> RequestInfo:
        """Ask for access to a version one may see but not read; guests give an e-mail address."""
        reason = (reason or "").strip()
        if len(reason) < 10:
            raise InvalidInput(
                "say why you need access (--reason, at least 10 characters)",
                errors=[FieldError("reason", "at least 10 characters")],
            )
        if principal.anonymous:
            if not email or not EMAIL_RE.match(email):
                raise InvalidInput(
                    "without an account, give the e-mail address the answer should go to",
                    errors=[FieldError("email", "a valid e-mail address is required for guests")],
                )
        elif not principal.has_scope("read"):
            require_user(principal, "read")
        outbox = Outbox()
        with self.hub.write() as s:
            version = self.hub.datasets._load_version(s, pid, principal)
            if version.state != "published":
                raise Conflict(f"{version.pid} is a draft; access can be requested once it is published")
            if can(principal, Action.read_files, version):
                raise Conflict(f"you can already read {version.pid} and its files")
            if principal.user_id is not None:
                pending = s.scalar(
                    select(AccessRequest.id).where(
                        AccessRequest.version_id == version.id,
                        AccessRequest.requester_id == principal.user_id,
                        AccessRequest.state == "pending",
                    )
                )
                if pending:
                    raise Conflict(f"you already asked for access to {version.pid} (request {pending})")
            req = AccessRequest(
                version_id=version.id,
                requester_id=principal.user_id,
                email=email if principal.anonymous else None,
                reason=reason[:5000],
                state="pending",
            )
            s.add(req)
            s.flush()
            who = principal.username or email
            for uid in self._deciders(s, version):
                outbox.notify(
                    s,
                    f"Access request {req.id} for {version.pid}",
                    f"{who} asks for access to {version.pid}:\n\n{reason}\n\n"
                    f"Answer with `databahn access grant {req.id}` or `databahn access decline {req.id}`.",
                    user_id=uid,
                )
            self.hub.datasets.audit(s, principal, "request.create", version.pid, request=req.id, email=email)
            info = self._info(s, req)
        outbox.send()
        return info

    def list(self, principal: Principal, *, state: str | None = None) -> list[RequestInfo]:
        """Requests the principal made, plus those it may decide (its datasets; all for curators)."""
        require_user(principal, "read")
        if state is not None and state not in ("pending", "granted", "declined", "expired"):
            raise InvalidInput(f"unknown state {state!r}; use pending, granted, declined or expired")
        with self.hub.read() as s:
            stmt = (
                select(AccessRequest)
                .join(Version, Version.id == AccessRequest.version_id)
                .join(Dataset, Dataset.id == Version.dataset_id)
            )
            if not principal.is_admin:
                mine = or_(
                    AccessRequest.requester_id == principal.user_id, Dataset.owner_id == principal.user_id
                )
                if self.access.has_role(s, principal, "data_manager"):
                    mine = or_(mine, Version.access != "confidential")
                stmt = stmt.where(mine)
            if state:
                stmt = stmt.where(AccessRequest.state == state)
            return [self._info(s, r) for r in s.scalars(stmt.order_by(AccessRequest.id.desc()).limit(500))]

    def _decidable(self, s: Session, principal: Principal, request_id: int) -> tuple[AccessRequest, Version]:
        require_user(principal)
        req = s.get(AccessRequest, request_id, with_for_update=True)
        version = s.get(Version, req.version_id) if req else None
        if req is None or version is None:
            raise NotFound(f"no access request {request_id} (see `databahn access list`)")
        if not can(principal, Action.govern, version):
            if req.requester_id == principal.user_id or can(principal, Action.read_metadata, version):
                raise Forbidden(
                    f"only the owner of {version.pid} or a data manager may answer request {request_id}"
                )
            raise NotFound(f"no access request {request_id} (see `databahn access list`)")
        if req.state != "pending":
            raise Conflict(f"request {request_id} was already {req.state}; nothing changed")
        return req, version

    def grant(
        self,
        principal: Principal,
        request_id: int,
        *,
        until: dt.date | str | None = None,
        conditions: str | None = None,
    ) -> RequestInfo:
        end = (
            parse_date(until, "until")
            if until not in (None, "")
            else today() + dt.timedelta(DEFAULT_GRANT_DAYS)
        )
        if end <= today():
            raise InvalidInput(
                f"a grant must last beyond today; {end} is not in the future",
                errors=[FieldError("until", "must be after today")],
            )
        outbox = Outbox()
        share_url = None
        with self.hub.write() as s:
            req, version = self._decidable(s, principal, request_id)
            req.state = "granted"
            req.until = end
            req.conditions = (conditions or "").strip() or None
            req.decided_by_id = principal.user_id
            req.decided_at = utcnow()
            body = f"Your request {req.id} for {version.pid} was granted until {end}."
            if req.conditions:
                body += f"\n\nConditions: {req.conditions}"
            if req.requester_id is None:
                import secrets

                secret = LINK_PREFIX + secrets.token_urlsafe(24)
                s.add(
                    ShareLink(
                        version_id=version.id,
                        token_hash=hash_link(secret),
                        label=f"request {req.id}",
                        expires_at=dt.datetime.combine(end, dt.time(23, 59, 59), dt.UTC),
                        created_by_id=principal.user_id,
                    )
                )
                share_url = self.access._link_url(secret)
                body += f"\n\nOpen the data with this personal link: {share_url}"
            outbox.notify(
                s, f"Access granted: {version.pid}", body, user_id=req.requester_id, email=req.email
            )
            self.hub.datasets.audit(
                s,
                principal,
                "request.grant",
                version.pid,
                request=req.id,
                until=str(end),
                conditions=req.conditions,
            )
            s.flush()
            info = self._info(s, req, share_url)
        outbox.send()
        return info

    def decline(self, principal: Principal, request_id: int, *, note: str | None = None) -> RequestInfo:
        outbox = Outbox()
        with self.hub.write() as s:
            req, version = self._decidable(s, principal, request_id)
            req.state = "declined"
            req.decided_by_id = principal.user_id
            req.decided_at = utcnow()
            req.conditions = (note or "").strip() or None
            body = f"Your request {req.id} for {version.pid} was declined."
            if req.conditions:
                body += f"\n\n{req.conditions}"
            outbox.notify(
                s, f"Access declined: {version.pid}", body, user_id=req.requester_id, email=req.email
            )
            self.hub.datasets.audit(s, principal, "request.decline", version.pid, request=req.id)
            s.flush()
            info = self._info(s, req)
        outbox.send()
        return info
