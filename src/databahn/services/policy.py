"""The one access policy: what a principal may do with a dataset version.

Each rule answers twice from one declaration — `allows(principal, version)` for a single object
and `where(principal, facts)` as an SQL clause over `versions` (joined to `datasets`) or over the
search index's copy of the same facts — so record pages, downloads, search hits, facet counts,
totals and version lists filter *inside the query* with exactly the logic used for single checks
(InvenioRDM's generators, without the weight). Every read path calls `can()` or `readable()`.

Openness (DMP 2.2.1, 2.2.5, 2.6.1):
- public: metadata for everyone; files once any embargo is over, unless announced metadata-only.
- restricted: metadata and files for the version's audience (groups/people it is shared with; the
  consortium when nobody was named); metadata for everyone when announced metadata-only.
- confidential: the owner and the people explicitly named.
An embargo closes files (never metadata) to everyone but the owner, admins, data managers,
holders of a grant and holders of a share link. Data managers read the metadata of every
published version and the files of public and restricted ones. Grants (decided access requests)
and share links open one version until they expire. Rules that need the database (membership,
roles, grants) evaluate their SQL clause for the single version in its own session.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import object_session

from databahn.db.models import Dataset, Version


class Action(StrEnum):
    read_metadata = "read_metadata"  # see that the version exists and its metadata
    read_files = "read_files"  # list and download its files
    edit = "edit"  # change a draft, add files
    publish = "publish"
    manage = "manage"  # access settings, identifiers, new versions
    govern = "govern"  # decide who may read: answer access requests, share links, published openness


@dataclass(frozen=True)
class Principal:
    """Who is asking. Anonymous when user_id is None.

    `share_version_ids` are the versions opened by share links presented with the request."""

    user_id: int | None = None
    username: str | None = None
    is_admin: bool = False
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"*"}))
    group_ids: frozenset[int] = field(default_factory=frozenset)
    share_version_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


ANONYMOUS = Principal()
SYSTEM = Principal(user_id=None, username="system", is_admin=True)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Facts:
    """The columns a rule's SQL clause reads. Versions ⋈ datasets by default; the search index
    keeps a denormalised copy of the same facts so search can filter without joins."""

    version_id: Any
    state: Any
    access: Any
    metadata_only: Any
    embargo_until: Any
    owner_id: Any


VERSION_FACTS = Facts(
    version_id=Version.id,
    state=Version.state,
    access=Version.access,
    metadata_only=Version.metadata_only,
    embargo_until=Version.embargo_until,
    owner_id=Dataset.owner_id,
)


def _embargo_over(f: Facts) -> ColumnElement[bool]:
    return or_(f.embargo_until.is_(None), f.embargo_until <= _today())


def _embargo_over_py(v: Version) -> bool:
    return v.embargo_until is None or v.embargo_until <= _today()


class Rule(ABC):
    @abstractmethod
    def allows(self, p: Principal, v: Version) -> bool: ...

    @abstractmethod
    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]: ...


class DatabaseRule(Rule):
    """A rule whose answer depends on other tables: `allows` runs `where` for this one version."""

    def allows(self, p: Principal, v: Version) -> bool:
        if p.user_id is None and not p.share_version_ids:
            return False
        s = object_session(v)
        if s is None or v.id is None:
            return False  # fail closed: a detached or unsaved version is nobody's business
        stmt = (
            select(Version.id)
            .join(Dataset, Dataset.id == Version.dataset_id)
            .where(Version.id == v.id, self.where(p, VERSION_FACTS))
        )
        return s.scalar(stmt) is not None


class IsAdmin(Rule):
    def allows(self, p: Principal, v: Version) -> bool:
        return p.is_admin

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        return true() if p.is_admin else false()


class IsOwner(Rule):
    def allows(self, p: Principal, v: Version) -> bool:
        return p.user_id is not None and v.dataset.owner_id == p.user_id

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        return f.owner_id == p.user_id if p.user_id is not None else false()


class PublishedPublic(Rule):
    """Published and public: anyone may see the metadata."""

    def allows(self, p: Principal, v: Version) -> bool:
        return v.state == "published" and v.access == "public"

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        return and_(f.state == "published", f.access == "public")


class AnnouncedRestricted(Rule):
    """Restricted data announced metadata-only (DMP 2.2.5): its metadata is visible to everyone."""

    def allows(self, p: Principal, v: Version) -> bool:
        return v.state == "published" and v.access == "restricted" and bool(v.metadata_only)

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        return and_(f.state == "published", f.access == "restricted", f.metadata_only.is_(True))


class PublishedPublicFilesOpen(Rule):
    """Public files: published, not metadata-only, embargo over."""

    def allows(self, p: Principal, v: Version) -> bool:
        return v.state == "published" and v.access == "public" and not v.metadata_only and _embargo_over_py(v)

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        return and_(
            f.state == "published",
            f.access == "public",
            f.metadata_only.is_(False),
            _embargo_over(f),
        )


def _tables() -> Any:
    from databahn.access import models

    return models


def _shared_with(p: Principal, f: Facts, *, people_only: bool = False) -> ColumnElement[bool]:
    """The version is shared with this person, or (unless people_only) with a group they are in."""
    m = _tables()
    uid = p.user_id
    match: ColumnElement[bool] = m.Share.user_id == uid
    if not people_only:
        my_groups = select(m.GroupMember.group_id).where(m.GroupMember.user_id == uid)
        match = or_(match, m.Share.group_id.in_(my_groups))
    return f.version_id.in_(select(m.Share.version_id).where(match))


class Audience(DatabaseRule):
    """Restricted, published: the groups and people it is shared with (default: the consortium).

    With `files=True` the embargo applies (files closed until the date)."""

    def __init__(self, *, files: bool) -> None:
        self.files = files

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        if p.user_id is None:
            return false()
        clauses = [f.state == "published", f.access == "restricted", _shared_with(p, f)]
        if self.files:
            clauses.append(_embargo_over(f))
        return and_(*clauses)


class NamedPerson(DatabaseRule):
    """Confidential, published: only the people explicitly named (plus the owner, another rule)."""

    def __init__(self, *, files: bool) -> None:
        self.files = files

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        if p.user_id is None:
            return false()
        clauses = [f.state == "published", f.access == "confidential", _shared_with(p, f, people_only=True)]
        if self.files:
            clauses.append(_embargo_over(f))
        return and_(*clauses)


def _has_role(p: Principal, role: str) -> ColumnElement[bool]:
    m = _tables()
    return exists(select(m.UserRole.id).where(m.UserRole.user_id == p.user_id, m.UserRole.role == role))


class DataManager(DatabaseRule):
    """Data managers curate: every published version's metadata; files unless confidential."""

    def __init__(self, *, files: bool) -> None:
        self.files = files

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        if p.user_id is None:
            return false()
        clauses = [f.state == "published", _has_role(p, "data_manager")]
        if self.files:
            clauses.append(f.access != "confidential")
        return and_(*clauses)


class DataManagerGoverns(DataManager):
    """Data managers decide access to published versions that are not confidential."""

    def __init__(self) -> None:
        super().__init__(files=True)


class Granted(DatabaseRule):
    """An access request granted for this version, not yet expired (metadata and files)."""

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        if p.user_id is None:
            return false()
        m = _tables()
        grants = select(m.AccessRequest.version_id).where(
            m.AccessRequest.requester_id == p.user_id,
            m.AccessRequest.state == "granted",
            or_(m.AccessRequest.until.is_(None), m.AccessRequest.until >= _today()),
        )
        return f.version_id.in_(grants)


class ShareLinkHolder(Rule):
    """The request presented a valid share link for this version (checked when it was presented)."""

    def allows(self, p: Principal, v: Version) -> bool:
        return v.id in p.share_version_ids

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        return f.version_id.in_(sorted(p.share_version_ids)) if p.share_version_ids else false()


POLICY: dict[Action, list[Rule]] = {
    Action.read_metadata: [
        IsAdmin(),
        IsOwner(),
        PublishedPublic(),
        AnnouncedRestricted(),
        ShareLinkHolder(),
        Audience(files=False),
        NamedPerson(files=False),
        Granted(),
        DataManager(files=False),
    ],
    Action.read_files: [
        IsAdmin(),
        IsOwner(),
        PublishedPublicFilesOpen(),
        ShareLinkHolder(),
        Audience(files=True),
        NamedPerson(files=True),
        Granted(),
        DataManager(files=True),
    ],
    Action.edit: [IsAdmin(), IsOwner()],
    Action.publish: [IsAdmin(), IsOwner()],
    Action.manage: [IsAdmin(), IsOwner()],
    Action.govern: [IsAdmin(), IsOwner(), DataManagerGoverns()],
}


def can(principal: Principal, action: Action, version: Version) -> bool:
    """May `principal` do `action` on `version`? (version.dataset must be loadable)

    Rules decided by the version alone answer first; the rules that need other tables (membership,
    roles, grants) are then asked together, in one query through the version's own session."""
    rules = POLICY[action]
    if any(rule.allows(principal, version) for rule in rules if not isinstance(rule, DatabaseRule)):
        return True
    db_rules = [rule for rule in rules if isinstance(rule, DatabaseRule)]
    if not db_rules or (principal.user_id is None and not principal.share_version_ids):
        return False
    s = object_session(version)
    if s is None or version.id is None:
        return False  # fail closed: a detached or unsaved version is nobody's business
    stmt = (
        select(Version.id)
        .join(Dataset, Dataset.id == Version.dataset_id)
        .where(Version.id == version.id, or_(*(rule.where(principal, VERSION_FACTS) for rule in db_rules)))
    )
    return s.scalar(stmt) is not None


def readable(
    principal: Principal, action: Action = Action.read_metadata, facts: Facts = VERSION_FACTS
) -> ColumnElement[bool]:
    """SQL clause selecting exactly the versions `can()` allows (over Version ⋈ Dataset by default,
    or over another table holding the same facts, such as the search index)."""
    return or_(*(rule.where(principal, facts) for rule in POLICY[action]))
