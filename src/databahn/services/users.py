"""People and their API tokens. Tokens are shown once and stored only as a sha256."""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from databahn.db.models import ApiToken, User, utcnow
from databahn.domain.metadata import ORCID_RE, orcid_checksum_ok
from databahn.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from databahn.services.policy import ANONYMOUS, Principal

if TYPE_CHECKING:
    from databahn.services.hub import Hub

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOKEN_PREFIX = "dbn_"
SCOPES = {"*", "read", "write", "admin"}
_hasher = PasswordHasher()


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    name: str | None
    email: str | None
    orcid: str | None
    is_admin: bool


@dataclass(frozen=True)
class NewToken:
    id: int
    name: str
    secret: str
    expires_at: dt.datetime | None


def _info(user: User) -> UserInfo:
    return UserInfo(user.id, user.username, user.name, user.email, user.orcid, user.is_admin)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UserService:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def add(
        self,
        username: str,
        *,
        name: str | None = None,
        email: str | None = None,
        orcid: str | None = None,
        is_admin: bool = False,
        password: str | None = None,
    ) -> UserInfo:
        if not USERNAME_RE.match(username or ""):
            raise InvalidInput(
                f"invalid user name {username!r}: use 2-100 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if email and not EMAIL_RE.match(email):
            raise InvalidInput(f"invalid e-mail address {email!r}")
        if orcid:
            m = ORCID_RE.match(orcid)
            if not m or not orcid_checksum_ok(m.group(2)):
                raise InvalidInput(f"invalid ORCID iD {orcid!r}: expected 0000-0000-0000-000X")
            orcid = m.group(2)
        if password is not None and len(password) < 10:
            raise InvalidInput("a password needs at least 10 characters")
        with self.hub.write() as s:
            if s.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
                raise Conflict(f"a user named {username!r} already exists")
            user = User(
                username=username,
                name=name,
                email=email,
                orcid=orcid,
                is_admin=is_admin,
                password_hash=_hasher.hash(password) if password else None,
            )
            s.add(user)
            s.flush()
            return _info(user)

    def get(self, username: str) -> UserInfo:
        with self.hub.read() as s:
            user = s.scalar(select(User).where(func.lower(User.username) == username.lower()))
            if not user:
                raise NotFound(f"no user named {username!r} (create one with `databahn user add NAME`)")
            return _info(user)

    def by_id(self, user_id: int) -> UserInfo:
        with self.hub.read() as s:
            user = s.get(User, user_id)
            if not user:
                raise NotFound(f"no user with id {user_id}")
            return _info(user)

    def list(self) -> builtins.list[UserInfo]:
        with self.hub.read() as s:
            return [_info(u) for u in s.scalars(select(User).order_by(User.username))]

    def set_password(self, username: str, password: str) -> None:
        if len(password) < 10:
            raise InvalidInput("a password needs at least 10 characters")
        with self.hub.write() as s:
            user = s.scalar(select(User).where(func.lower(User.username) == username.lower()))
            if not user:
                raise NotFound(f"no user named {username!r}")
            user.password_hash = _hasher.hash(password)

    def check_password(self, username: str, password: str) -> UserInfo:
        with self.hub.read() as s:
            user = s.scalar(select(User).where(func.lower(User.username) == username.lower()))
            ok = False
            if user and user.password_hash:
                try:
                    ok = _hasher.verify(user.password_hash, password)
                except (VerificationError, InvalidHashError):
                    ok = False
            if not user or not ok:
                raise Unauthenticated("wrong user name or password")
            return _info(user)

    # -- tokens ---------------------------------------------------------------------------------
    def create_token(
        self,
        username: str,
        *,
        name: str = "cli",
        scopes: builtins.list[str] | None = None,
        expires_in_days: int | None = None,
    ) -> NewToken:
        scopes = scopes or ["*"]
        unknown = set(scopes) - SCOPES
        if unknown:
            raise InvalidInput(f"unknown token scope(s) {sorted(unknown)}; use {sorted(SCOPES)}")
        if expires_in_days is not None and expires_in_days <= 0:
            raise InvalidInput("a token's lifetime must be at least one day")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        expires = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
        with self.hub.write() as s:
            user = s.scalar(select(User).where(func.lower(User.username) == username.lower()))
            if not user:
                raise NotFound(f"no user named {username!r} (create one with `databahn user add {username}`)")
            token = ApiToken(
                user_id=user.id,
                name=name,
                token_hash=hash_token(secret),
                prefix=secret[:10],
                scopes=scopes,
                expires_at=expires,
            )
            s.add(token)
            s.flush()
            return NewToken(token.id, name, secret, expires)

    def revoke_token(self, principal: Principal, token_id: int) -> None:
        with self.hub.write() as s:
            token = s.get(ApiToken, token_id)
            if not token or (token.user_id != principal.user_id and not principal.is_admin):
                raise NotFound(f"no token with id {token_id}")
            token.revoked_at = utcnow()

    def principal_for_token(self, secret: str) -> Principal:
        """The principal a bearer token stands for; Unauthenticated with the reason otherwise."""
        if not secret.startswith(TOKEN_PREFIX):
            raise Unauthenticated("malformed API token: Databahn tokens start with 'dbn_'")
        with self.hub.read() as s:
            token = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
            if token is None:
                raise Unauthenticated("unknown API token (create one with `databahn token create USER`)")
            if token.revoked_at is not None:
                raise Unauthenticated("this API token was revoked")
            if token.expires_at is not None and token.expires_at <= utcnow():
                raise Unauthenticated(f"this API token expired on {token.expires_at:%Y-%m-%d}")
            user = s.get(User, token.user_id)
            assert user is not None
            return Principal(
                user_id=user.id,
                username=user.username,
                is_admin=user.is_admin and ("*" in token.scopes or "admin" in token.scopes),
                scopes=frozenset(token.scopes),
            )

    def principal_for_user(self, user_id: int) -> Principal:
        info = self.by_id(user_id)
        return Principal(user_id=info.id, username=info.username, is_admin=info.is_admin)


def require_user(principal: Principal, scope: str = "write") -> None:
    if (principal is ANONYMOUS or principal.anonymous) and not principal.is_admin:  # SYSTEM passes
        raise Unauthenticated(
            "this needs an API token: pass `Authorization: Bearer <token>` "
            "(create one with `databahn token create USER`)"
        )
    if not principal.has_scope(scope):
        raise Forbidden(f"this token lacks the {scope!r} scope")
