"""Access and trust: groups and roles, openness of versions, embargoes, access requests and grants,
share links, notifications and the audit trail (DMP 2.2.1, 2.2.5, 2.6.1).

Deciding *who may read what* stays in `databahn.services.policy`; this service only maintains the
facts the policy reads (shares, grants, roles, memberships, links) and audits every change to them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from databahn.access.models import (
    CONSORTIUM,
    GROUP_KINDS,
    ROLES,
    AccessRequest,
    Group,
    GroupMember,
    Notification,
    Organisation,
    Share,
    ShareLink,
    UserRole,
    VersionAccessInfo,
)
from databahn.access.notify import Outbox
from databahn.db.models import Dataset, User, Version, utcnow
from databahn.domain.records import Access
from databahn.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, Unauthenticated
from databahn.services.policy import Action, Principal, can
from databahn.services.users import EMAIL_RE, require_user

if TYPE_CHECKING:
    from databahn.services.hub import Hub

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LINK_PREFIX = "dbs_"
JOURNAL_EMBARGO_DAYS = 183  # H2020: publications open within 6 months (DMP 2.2.1)
JOURNAL_WORDS = ("journal", "paper", "article", "publication", "manuscript", "supplementary")
DEFAULT_GRANT_DAYS = 180


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def parse_date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            f"{field} must be a date YYYY-MM-DD (e.g. 2027-01-31), not {value!r}",
            errors=[FieldError(field, "use YYYY-MM-DD")],
        ) from None


def embargo_warnings(until: dt.date | None, reason: str | None, start: dt.date | None = None) -> list[str]:
    """The H2020 rule quoted in the DMP: journal supplementary data may be embargoed < 6 months."""
    if until is None or not reason or not any(w in reason.lower() for w in JOURNAL_WORDS):
        return []
    days = (until - (start or today())).days
    if days > JOURNAL_EMBARGO_DAYS:
        return [
            f"a journal embargo of {days} days exceeds the 6 months H2020 allows for publications "
            "(DMP 2.2.1); shorten it or give an IPR or facility reason"
        ]
    return []


def hash_link(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class GroupInfo:
    name: str
    kind: str
    title: str | None
    organisation: str | None
    members: list[str]
    leaders: list[str]


@dataclass(frozen=True)
class RequestInfo:
    id: int
    pid: str
    title: str
    requester: str | None
    email: str | None
    reason: str
    state: str
    until: dt.date | None
    conditions: str | None
    created: dt.datetime
    decided_at: dt.datetime | None
    share_url: str | None = None  # a link made for a requester without an account (shown once)


@dataclass(frozen=True)
class NewShareLink:
    id: int
    pid: str
    url: str
    secret: str
    expires_at: dt.datetime


class AccessService:
    """hub.ext["access"]: groups, roles, openness, links, notifications; `.requests` and `.audit`."""

    def __init__(self, hub: Hub) -> None:
        from databahn.access.audit import AuditLog
        from databahn.access.requests import AccessRequests

        self.hub = hub
        self.job: Any = None  # the embargo job's handle when it runs in-process
        self.requests = AccessRequests(self)
        self.audit = AuditLog(self)

    # -- helpers ---------------------------------------------------------------------------------
    def _user(self, s: Session, username: str) -> User:
        user = s.scalar(select(User).where(func.lower(User.username) == username.lower()))
        if user is None:
            raise NotFound(f"no user named {username!r} (create one with `databahn user add {username}`)")
        return user

    def has_role(self, s: Session, principal: Principal, role: str) -> bool:
        if principal.user_id is None:
            return False
        return (
            s.scalar(select(UserRole.id).where(UserRole.user_id == principal.user_id, UserRole.role == role))
            is not None
        )

    def _is_curator(self, s: Session, principal: Principal) -> bool:
        return principal.is_admin or self.has_role(s, principal, "data_manager")

    def _require_curator(self, s: Session, principal: Principal, what: str) -> None:
        require_user(principal)
        if not self._is_curator(s, principal):
            raise Forbidden(f"only administrators and data managers may {what}")

    def consortium(self, s: Session) -> Group:
        group = s.scalar(select(Group).where(Group.name == CONSORTIUM))
        if group is None:
            s.execute(
                self.hub.insert_ignore(Group.__table__),
                [
                    {
                        "name": CONSORTIUM,
                        "kind": "consortium",
                        "title": "The whole consortium",
                        "created": utcnow(),
                    }
                ],
            )
            group = s.scalar(select(Group).where(Group.name == CONSORTIUM))
            assert group is not None
        return group

    def _group(self, s: Session, name: str) -> Group:
        if name == CONSORTIUM:
            return self.consortium(s)
        group = s.scalar(select(Group).where(func.lower(Group.name) == name.lower()))
        if group is None:
            raise NotFound(f"no group named {name!r} (create it with `databahn group add {name}`)")
        return group

    # -- organisations, groups, roles -------------------------------------------------------------
    def add_organisation(self, principal: Principal, name: str, *, ror: str | None = None) -> dict[str, Any]:
        if not name.strip():
            raise InvalidInput("an organisation needs a name")
        if ror and not re.fullmatch(r"(https://ror\.org/)?0[a-z0-9]{6}[0-9]{2}", ror):
            raise InvalidInput(f"invalid ROR id {ror!r}: expected e.g. https://ror.org/04qtj9h94")
        with self.hub.write() as s:
            self._require_curator(s, principal, "add organisations")
            if s.scalar(select(Organisation.id).where(Organisation.name == name)):
                raise Conflict(f"an organisation named {name!r} already exists")
            s.add(Organisation(name=name, ror=ror))
            self.hub.datasets.audit(s, principal, "org.add", name, ror=ror)
        return {"name": name, "ror": ror}

    def add_group(
        self,
        principal: Principal,
        name: str,
        *,
        kind: str = "stakeholder",
        title: str | None = None,
        members: list[str] | None = None,
        organisation: str | None = None,
    ) -> GroupInfo:
        if not NAME_RE.match(name or ""):
            raise InvalidInput(
                f"invalid group name {name!r}: use letters, digits, '.', '_' or '-' (e.g. WP2, DTU, reviewers)"
            )
        if kind not in GROUP_KINDS:
            raise InvalidInput(f"unknown group kind {kind!r}; use one of {', '.join(GROUP_KINDS)}")
        with self.hub.write() as s:
            self._require_curator(s, principal, "create groups")
            if name.lower() == CONSORTIUM or s.scalar(
                select(Group.id).where(func.lower(Group.name) == name.lower())
            ):
                raise Conflict(f"a group named {name!r} already exists; add members with `--member`")
            users = [self._user(s, m) for m in dict.fromkeys(members or [])]
            org_id = None
            if organisation:
                org_id = s.scalar(select(Organisation.id).where(Organisation.name == organisation))
                if org_id is None:
                    raise NotFound(f"no organisation named {organisation!r}")
            group = Group(name=name, kind=kind, title=title, organisation_id=org_id)
            s.add(group)
            s.flush()
            for u in users:
                s.add(GroupMember(group_id=group.id, user_id=u.id, role="member"))
            self.hub.datasets.audit(
                s, principal, "group.add", f"group:{name}", kind=kind, members=[u.username for u in users]
            )
            s.flush()
            return self._group_info(s, group)

    def _group_info(self, s: Session, group: Group) -> GroupInfo:
        rows = s.execute(
            select(User.username, GroupMember.role)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group.id)
            .order_by(User.username)
        ).all()
        org = s.get(Organisation, group.organisation_id) if group.organisation_id else None
        return GroupInfo(
            name=group.name,
            kind=group.kind,
            title=group.title,
            organisation=org.name if org else None,
            members=[r[0] for r in rows],
            leaders=[r[0] for r in rows if r[1] == "leader"],
        )

    def list_groups(self, principal: Principal) -> list[GroupInfo]:
        require_user(principal, "read")
        with self.hub.write() as s:
            self.consortium(s)
            return [self._group_info(s, g) for g in s.scalars(select(Group).order_by(Group.name))]

    def add_member(
        self, principal: Principal, group_name: str, username: str, *, leader: bool = False
    ) -> GroupInfo:
        require_user(principal)
        with self.hub.write() as s:
            group = self._group(s, group_name)
            is_leader = principal.user_id is not None and s.scalar(
                select(GroupMember.id).where(
                    GroupMember.group_id == group.id,
                    GroupMember.user_id == principal.user_id,
                    GroupMember.role == "leader",
                )
            )
            if not (self._is_curator(s, principal) or (is_leader and not leader)):
                raise Forbidden(
                    f"only administrators, data managers and leaders of {group.name} may add members to it"
                )
            user = self._user(s, username)
            existing = s.scalar(
                select(GroupMember).where(GroupMember.group_id == group.id, GroupMember.user_id == user.id)
            )
            role = "leader" if leader else "member"
            if existing is None:
                s.add(GroupMember(group_id=group.id, user_id=user.id, role=role))
            elif leader:
                existing.role = role
            self.hub.datasets.audit(
                s, principal, "group.member_add", f"group:{group.name}", user=user.username, role=role
            )
            s.flush()
            return self._group_info(s, group)

    def remove_member(self, principal: Principal, group_name: str, username: str) -> GroupInfo:
        with self.hub.write() as s:
            self._require_curator(s, principal, "remove group members")
            group = self._group(s, group_name)
            user = self._user(s, username)
            gone = s.execute(
                delete(GroupMember).where(GroupMember.group_id == group.id, GroupMember.user_id == user.id)
            ).rowcount  # type: ignore[attr-defined]
            if not gone:
                raise NotFound(f"{user.username} is not a member of {group.name}")
            self.hub.datasets.audit(
                s, principal, "group.member_remove", f"group:{group.name}", user=user.username
            )
            return self._group_info(s, group)

    def set_role(self, principal: Principal, username: str, role: str, *, remove: bool = False) -> list[str]:
        """Give (or take) a hub-wide role; admins only. Roles: data_manager, member, guest."""
        if role not in ROLES:
            raise InvalidInput(
                f"unknown role {role!r}; use one of {', '.join(ROLES)} (admins are made with `user add --admin`, "
                "WP leaders with `group member-add --leader`)"
            )
        require_user(principal)
        if not principal.is_admin:
            raise Forbidden("only administrators may change roles")
        with self.hub.write() as s:
            user = self._user(s, username)
            if remove:
                s.execute(delete(UserRole).where(UserRole.user_id == user.id, UserRole.role == role))
            elif not s.scalar(select(UserRole.id).where(UserRole.user_id == user.id, UserRole.role == role)):
                s.add(UserRole(user_id=user.id, role=role))
                if role == "member":
                    group = self.consortium(s)
                    s.execute(
                        self.hub.insert_ignore(GroupMember.__table__),
                        [{"group_id": group.id, "user_id": user.id, "role": "member"}],
                    )
            self.hub.datasets.audit(
                s, principal, "role.remove" if remove else "role.add", f"user:{user.username}", role=role
            )
            s.flush()
            return sorted(s.scalars(select(UserRole.role).where(UserRole.user_id == user.id)))

    def roles_of(self, principal: Principal) -> list[str]:
        if principal.user_id is None:
            return []
        with self.hub.read() as s:
            roles = set(s.scalars(select(UserRole.role).where(UserRole.user_id == principal.user_id)))
            if s.scalar(
                select(GroupMember.id).where(
                    GroupMember.user_id == principal.user_id, GroupMember.role == "leader"
                )
            ):
                roles.add("wp_leader")
            if principal.is_admin:
                roles.add("admin")
            return sorted(roles)

    # -- openness -------------------------------------------------------------------------------------
    def _resolve_audience(
        self, s: Session, names: list[str], access: str
    ) -> list[tuple[int | None, int | None]]:
        """share_with names → (group_id, user_id) pairs; 'group:X' / 'user:X' force the kind."""
        out: list[tuple[int | None, int | None]] = []
        problems: list[FieldError] = []
        for raw in names:
            name = str(raw).strip()
            kind, _, bare = name.partition(":")
            if not _ or kind not in ("group", "user"):
                kind, bare = "", name
            group = None
            if kind in ("", "group"):
                group = (
                    self.consortium(s)
                    if bare.lower() == CONSORTIUM
                    else s.scalar(select(Group).where(func.lower(Group.name) == bare.lower()))
                )
            user = None
            if group is None and kind in ("", "user"):
                user = s.scalar(select(User).where(func.lower(User.username) == bare.lower()))
            if group is not None:
                if access == "confidential":
                    problems.append(
                        FieldError(
                            "options.share_with",
                            f"{bare!r} is a group: confidential data is shared with named people only",
                        )
                    )
                out.append((group.id, None))
            elif user is not None:
                out.append((None, user.id))
            else:
                problems.append(FieldError("options.share_with", f"no group or user named {bare!r}"))
        if problems:
            raise InvalidInput(
                "cannot share: "
                + "; ".join(p.message for p in problems)
                + " (list groups with `databahn group list`)",
                errors=problems,
            )
        return list(dict.fromkeys(out))

    def _info(self, s: Session, version: Version) -> VersionAccessInfo:
        info = s.get(VersionAccessInfo, version.id)
        if info is None:
            info = VersionAccessInfo(version_id=version.id)
            s.add(info)
        return info

    def _replace_shares(
        self, s: Session, version: Version, pairs: list[tuple[int | None, int | None]]
    ) -> None:
        s.execute(delete(Share).where(Share.version_id == version.id))
        for group_id, user_id in pairs:
            s.add(Share(version_id=version.id, group_id=group_id, user_id=user_id))
        s.flush()

    def apply_options(self, s: Session, version: Version, options: dict[str, Any]) -> set[str]:
        """create_options hook: share_with, embargo_until, embargo_reason, contact on a new draft."""
        handled: set[str] = {
            k for k in ("share_with", "embargo_until", "embargo_reason", "contact") if k in options
        }
        if not handled:
            return set()
        if "share_with" in options:
            names = options["share_with"]
            if isinstance(names, str):
                names = [n for n in names.split(",") if n.strip()]
            if not isinstance(names, list):
                raise InvalidInput("share_with must be a list of group or user names")
            if version.access == "public" and names:
                raise InvalidInput(
                    "share_with only applies to restricted or confidential data; pass --access restricted",
                    errors=[FieldError("options.share_with", "the version is public")],
                )
            self._replace_shares(s, version, self._resolve_audience(s, names, version.access))
        reason = options.get("embargo_reason")
        if options.get("embargo_until") not in (None, ""):
            until = parse_date(options["embargo_until"], "embargo_until")
            if until <= today():
                raise InvalidInput(
                    f"the embargo date {until} is not in the future; give a later date or no embargo",
                    errors=[FieldError("options.embargo_until", "must be after today")],
                )
            if not reason or not str(reason).strip():
                raise InvalidInput(
                    "an embargo needs a reason (--embargo-reason), e.g. 'journal supplementary data', "
                    "'IPR evaluation' or 'large-scale facility data'",
                    errors=[FieldError("options.embargo_reason", "required with embargo_until")],
                )
            version.embargo_until = until
        elif reason:
            raise InvalidInput(
                "an embargo reason needs an end date (--embargo-until YYYY-MM-DD)",
                errors=[FieldError("options.embargo_until", "required with embargo_reason")],
            )
        info = self._info(s, version)
        if reason:
            info.embargo_reason = str(reason).strip()[:2000]
        contact = options.get("contact")
        if contact:
            if not EMAIL_RE.match(str(contact)):
                raise InvalidInput(f"the contact must be an e-mail address, not {contact!r}")
            info.contact = str(contact)
        s.flush()
        return handled

    def after_publish(self, s: Session, version: Version) -> None:
        """Carry shares and notes over from the previous version; restricted defaults to the consortium."""
        previous = s.scalar(
            select(Version)
            .where(
                Version.dataset_id == version.dataset_id,
                Version.number < version.number,
                Version.state == "published",
            )
            .order_by(Version.number.desc())
            .limit(1)
        )
        has_shares = s.scalar(select(Share.id).where(Share.version_id == version.id).limit(1)) is not None
        if not has_shares and previous is not None:
            for row in s.scalars(select(Share).where(Share.version_id == previous.id)):
                s.add(Share(version_id=version.id, group_id=row.group_id, user_id=row.user_id))
            s.flush()
            has_shares = s.scalar(select(Share.id).where(Share.version_id == version.id).limit(1)) is not None
        if previous is not None and s.get(VersionAccessInfo, version.id) is None:
            old = s.get(VersionAccessInfo, previous.id)
            if old is not None:
                s.add(
                    VersionAccessInfo(
                        version_id=version.id, embargo_reason=old.embargo_reason, contact=old.contact
                    )
                )
        if not has_shares and version.access == "restricted":
            s.add(Share(version_id=version.id, group_id=self.consortium(s).id))
        s.flush()

    def record_extras(self, s: Session, version: Version, principal: Principal) -> dict[str, Any]:
        info = s.get(VersionAccessInfo, version.id)
        reason = info.embargo_reason if info else None
        data: dict[str, Any] = {
            "level": version.access,
            "metadata_only": bool(version.metadata_only),
            "embargo_until": version.embargo_until.isoformat() if version.embargo_until else None,
            "embargo_reason": reason,
            "contact": info.contact if info else None,
            "files_open": can(principal, Action.read_files, version),
        }
        data["can_request"] = version.state == "published" and not data["files_open"]
        if can(principal, Action.govern, version):
            data["shared_with"] = self._audience_names(s, version)
            data["warnings"] = embargo_warnings(
                version.embargo_until, reason, (version.published_at or version.created).date()
            )
        return {"access": data}

    def _audience_names(self, s: Session, version: Version) -> list[str]:
        groups = s.scalars(
            select(Group.name).join(Share, Share.group_id == Group.id).where(Share.version_id == version.id)
        )
        users = s.scalars(
            select(User.username).join(Share, Share.user_id == User.id).where(Share.version_id == version.id)
        )
        return sorted(f"group:{g}" for g in groups) + sorted(f"user:{u}" for u in users)

    def _governed_version(self, s: Session, principal: Principal, pid: str) -> Version:
        require_user(principal)
        version = self.hub.datasets._load_version(s, pid, principal)
        if not can(principal, Action.govern, version):
            raise Forbidden(
                f"only the owner of {version.pid}, a data manager or an administrator may change who can read it"
            )
        return version

    def set_openness(
        self,
        principal: Principal,
        pid: str,
        *,
        access: str | None = None,
        metadata_only: bool | None = None,
        embargo_until: dt.date | None = None,
        lift_embargo: bool = False,
        embargo_reason: str | None = None,
        share_with: list[str] | None = None,
        contact: str | None = None,
    ) -> dict[str, Any]:
        """Change openness of a version, published or not (access facts are not content)."""
        with self.hub.write() as s:
            version = self._governed_version(s, principal, pid)
            before = {
                "access": version.access,
                "metadata_only": version.metadata_only,
                "embargo_until": str(version.embargo_until) if version.embargo_until else None,
                "shared_with": self._audience_names(s, version),
            }
            if access is not None:
                try:
                    version.access = Access(access).value
                except ValueError:
                    raise InvalidInput(
                        f"unknown access level {access!r}; use public, restricted or confidential"
                    ) from None
            if metadata_only is not None:
                version.metadata_only = metadata_only
            if lift_embargo:
                version.embargo_until = None
            options: dict[str, Any] = {}
            if embargo_until is not None:
                options["embargo_until"] = embargo_until
                options["embargo_reason"] = embargo_reason or (
                    (s.get(VersionAccessInfo, version.id) or VersionAccessInfo()).embargo_reason
                )
            if share_with is not None:
                options["share_with"] = share_with
            if contact is not None:
                options["contact"] = contact
            if share_with is None and version.access == "confidential":
                # groups never see confidential data: keep only the named people
                s.execute(delete(Share).where(Share.version_id == version.id, Share.group_id.is_not(None)))
            if options:
                self.apply_options(s, version, options)
            no_audience = s.scalar(select(Share.id).where(Share.version_id == version.id).limit(1)) is None
            if version.access == "restricted" and version.state == "published" and no_audience:
                s.add(Share(version_id=version.id, group_id=self.consortium(s).id))
            version.updated = utcnow()
            s.flush()
            after = {
                "access": version.access,
                "metadata_only": version.metadata_only,
                "embargo_until": str(version.embargo_until) if version.embargo_until else None,
                "shared_with": self._audience_names(s, version),
            }
            self.hub.datasets.audit(s, principal, "access.change", version.pid, before=before, after=after)
            if version.state == "published" and version.is_latest:
                self.hub.datasets._index(s, version)
            return after

    # -- embargo and grant expiry ------------------------------------------------------------------
    def lift_expired(self) -> dict[str, int]:
        """Lift embargoes whose date has come and expire grants past their date; audited, notified."""
        outbox = Outbox()
        lifted = expired = 0
        with self.hub.write() as s:
            versions = s.scalars(
                select(Version).where(Version.embargo_until.is_not(None), Version.embargo_until <= today())
            ).all()
            for version in versions:
                was = version.embargo_until
                version.embargo_until = None
                s.flush()
                self.hub.datasets.audit(s, _system(), "embargo.lift", version.pid, until=str(was))
                dataset = s.get(Dataset, version.dataset_id)
                if dataset is not None:
                    outbox.notify(
                        s,
                        f"Embargo lifted: {version.pid}",
                        f"The embargo of {version.pid} ended on {was}; its files now follow its access level.",
                        user_id=dataset.owner_id,
                    )
                if version.state == "published" and version.is_latest:
                    self.hub.datasets._index(s, version)
                lifted += 1
            grants = s.scalars(
                select(AccessRequest).where(
                    AccessRequest.state == "granted",
                    AccessRequest.until.is_not(None),
                    AccessRequest.until < today(),
                )
            ).all()
            for req in grants:
                req.state = "expired"
                self.hub.datasets.audit(
                    s, _system(), "grant.expire", f"request:{req.id}", until=str(req.until)
                )
                outbox.notify(
                    s,
                    f"Access expired (request {req.id})",
                    f"Your access granted under request {req.id} ended on {req.until}.",
                    user_id=req.requester_id,
                    email=req.email if req.requester_id is None else None,
                )
                expired += 1
        outbox.send()
        return {"embargoes_lifted": lifted, "grants_expired": expired}

    # -- notifications -----------------------------------------------------------------------------
    def notifications(self, principal: Principal, *, unread_only: bool = False) -> list[dict[str, Any]]:
        require_user(principal, "read")
        with self.hub.read() as s:
            stmt = select(Notification).where(Notification.user_id == principal.user_id)
            if unread_only:
                stmt = stmt.where(Notification.read_at.is_(None))
            return [
                {
                    "id": n.id,
                    "subject": n.subject,
                    "body": n.body,
                    "created": n.created,
                    "read": n.read_at is not None,
                }
                for n in s.scalars(stmt.order_by(Notification.id.desc()).limit(200))
            ]

    def mark_read(self, principal: Principal, notification_id: int) -> None:
        require_user(principal, "read")
        with self.hub.write() as s:
            n = s.get(Notification, notification_id)
            if n is None or n.user_id != principal.user_id:
                raise NotFound(f"no notification {notification_id}")
            n.read_at = n.read_at or utcnow()

    # -- share links -------------------------------------------------------------------------------------
    def create_link(
        self, principal: Principal, pid: str, *, days: int = 30, label: str | None = None
    ) -> NewShareLink:
        if not 1 <= days <= 366:
            raise InvalidInput("a share link lives between 1 and 366 days (--days)")
        secret = LINK_PREFIX + secrets.token_urlsafe(24)
        with self.hub.write() as s:
            version = self._governed_version(s, principal, pid)
            link = ShareLink(
                version_id=version.id,
                token_hash=hash_link(secret),
                label=label,
                expires_at=utcnow() + dt.timedelta(days=days),
                created_by_id=principal.user_id,
            )
            s.add(link)
            s.flush()
            self.hub.datasets.audit(s, principal, "share_link.create", version.pid, link=link.id, days=days)
            return NewShareLink(link.id, version.pid, self._link_url(secret), secret, link.expires_at)

    def _link_url(self, secret: str) -> str:
        return f"{self.hub.settings.base_url.rstrip('/')}/s/{secret}"

    def revoke_link(self, principal: Principal, link_id: int) -> None:
        with self.hub.write() as s:
            link = s.get(ShareLink, link_id)
            version = s.get(Version, link.version_id) if link else None
            if link is None or version is None or not can(principal, Action.govern, version):
                raise NotFound(f"no share link {link_id}")
            link.revoked_at = utcnow()
            self.hub.datasets.audit(s, principal, "share_link.revoke", version.pid, link=link_id)

    def link_version(self, secret: str) -> tuple[int, str]:
        """(version id, version pid) a share link opens; Unauthenticated if unknown/expired/revoked."""
        with self.hub.read() as s:
            link = s.scalar(select(ShareLink).where(ShareLink.token_hash == hash_link(secret.strip())))
            if link is None or link.revoked_at is not None:
                raise Unauthenticated(
                    "this share link is unknown or was revoked; ask the owner for a new one"
                )
            if link.expires_at <= utcnow():
                raise Unauthenticated(
                    f"this share link expired on {link.expires_at:%Y-%m-%d}; ask the owner for a new one"
                )
            pid = s.scalar(select(Version.pid).where(Version.id == link.version_id))
            assert pid is not None
            return link.version_id, pid

    def with_links(self, principal: Principal, secrets_: list[str], *, strict: bool = True) -> Principal:
        """The principal plus the versions its share links open (bad links raise when strict)."""
        ids: set[int] = set(principal.share_version_ids)
        for secret in secrets_:
            try:
                ids.add(self.link_version(secret)[0])
            except Unauthenticated:
                if strict:
                    raise
        return dataclasses.replace(principal, share_version_ids=frozenset(ids))


def _system() -> Principal:
    from databahn.services.policy import SYSTEM

    return SYSTEM
