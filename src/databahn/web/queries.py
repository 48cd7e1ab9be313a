"""Small read queries the pages need that the services do not offer; every one applies the policy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select

from databahn.db.models import ApiToken, Dataset, User, Version
from databahn.errors import Forbidden
from databahn.search.index import SearchQuery
from databahn.services.datasets import SearchPage
from databahn.services.hub import Hub
from databahn.services.policy import Principal, readable
from databahn.services.users import require_user

OVERVIEW_FACETS = ("work_package", "data_level", "access")


@dataclass(frozen=True)
class DatasetRow:
    pid: str
    concept_pid: str
    title: str
    state: str
    access: str
    number: int
    updated: dt.datetime
    published: dt.datetime | None


@dataclass(frozen=True)
class TokenRow:
    id: int
    username: str
    name: str
    prefix: str
    scopes: list[str]
    created: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def overview(hub: Hub, principal: Principal, recent: int = 6) -> SearchPage:
    """What the hub holds for this reader: totals and facet counts (access-filtered) plus the newest."""
    return hub.datasets.search(principal, SearchQuery(sort="newest", size=recent))


def my_datasets(hub: Hub, principal: Principal) -> list[DatasetRow]:
    """The signed-in user's drafts and the latest published version of each of their datasets."""
    require_user(principal, "read")
    with hub.read() as s:
        rows = s.scalars(
            select(Version)
            .join(Dataset, Dataset.id == Version.dataset_id)
            .where(
                Dataset.owner_id == principal.user_id,
                or_(Version.state == "draft", Version.is_latest.is_(True)),
                readable(principal),
            )
            .order_by(Version.updated.desc())
            .limit(500)
        )
        return [
            DatasetRow(
                pid=v.pid,
                concept_pid=v.pid.split(".v")[0],
                title=str((v.meta or {}).get("title", "")),
                state=v.state,
                access=v.access,
                number=v.number,
                updated=v.updated,
                published=v.published_at,
            )
            for v in rows
        ]


def list_tokens(hub: Hub, principal: Principal) -> list[TokenRow]:
    """All API tokens (admins) — never the secrets, only their prefixes."""
    if not principal.is_admin:
        raise Forbidden("only administrators may list tokens")
    with hub.read() as s:
        rows = s.execute(
            select(ApiToken, User.username)
            .join(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.created.desc())
            .limit(500)
        ).all()
        return [
            TokenRow(
                id=t.id,
                username=username,
                name=t.name,
                prefix=t.prefix,
                scopes=list(t.scopes or []),
                created=t.created,
                expires_at=t.expires_at,
                revoked_at=t.revoked_at,
                last_used_at=t.last_used_at,
            )
            for t, username in rows
        ]
