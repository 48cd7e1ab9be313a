"""The one access policy: what a principal may do with a dataset version.

Each rule answers twice from one declaration — `allows(principal, version)` for a single object
and `where(principal)` as an SQL clause over `versions` (joined to `datasets`) — so record pages,
downloads, search hits, facet counts, totals and version lists filter *inside the query* with
exactly the logic used for single checks (InvenioRDM's generators, without the weight).
Every read path calls `can()` or `readable()`; nothing else decides.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from databahn.db.models import Dataset, Version


class Action(StrEnum):
    read_metadata = "read_metadata"  # see that the version exists and its metadata
    read_files = "read_files"  # list and download its files
    edit = "edit"  # change a draft, add files
    publish = "publish"
    manage = "manage"  # access settings, identifiers, new versions


@dataclass(frozen=True)
class Principal:
    """Who is asking. Anonymous when user_id is None."""

    user_id: int | None = None
    username: str | None = None
    is_admin: bool = False
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"*"}))
    group_ids: frozenset[int] = field(default_factory=frozenset)

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


class Rule(ABC):
    @abstractmethod
    def allows(self, p: Principal, v: Version) -> bool: ...

    @abstractmethod
    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]: ...


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


class PublishedPublicFilesOpen(Rule):
    """Public files: published, not metadata-only, embargo over."""

    def allows(self, p: Principal, v: Version) -> bool:
        return (
            v.state == "published"
            and v.access == "public"
            and not v.metadata_only
            and (v.embargo_until is None or v.embargo_until <= _today())
        )

    def where(self, p: Principal, f: Facts) -> ColumnElement[bool]:
        return and_(
            f.state == "published",
            f.access == "public",
            f.metadata_only.is_(False),
            or_(f.embargo_until.is_(None), f.embargo_until <= _today()),
        )


POLICY: dict[Action, list[Rule]] = {
    Action.read_metadata: [IsAdmin(), IsOwner(), PublishedPublic()],
    Action.read_files: [IsAdmin(), IsOwner(), PublishedPublicFilesOpen()],
    Action.edit: [IsAdmin(), IsOwner()],
    Action.publish: [IsAdmin(), IsOwner()],
    Action.manage: [IsAdmin(), IsOwner()],
}


def can(principal: Principal, action: Action, version: Version) -> bool:
    """May `principal` do `action` on `version`? (version.dataset must be loadable)"""
    return any(rule.allows(principal, version) for rule in POLICY[action])


def readable(
    principal: Principal, action: Action = Action.read_metadata, facts: Facts = VERSION_FACTS
) -> ColumnElement[bool]:
    """SQL clause selecting exactly the versions `can()` allows (over Version ⋈ Dataset by default,
    or over another table holding the same facts, such as the search index)."""
    return or_(*(rule.where(principal, facts) for rule in POLICY[action]))
