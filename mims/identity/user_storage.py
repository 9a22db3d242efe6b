"""Users, authorization codes and refresh tokens in SQL (SQLite or PostgreSQL).

Codes and refresh tokens are bearer secrets, so only their SHA-256 is stored: a copy of the
database does not let anyone redeem them. Marking one used is a single conditional UPDATE, so
of two concurrent redemptions exactly one wins. The tables are created by
``migrations/versions/identity_0004_*``; the two must change together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.identity.users import User, UserExists
from mims.kit.storage import as_utc, begin_write

metadata = sa.MetaData()

users = sa.Table(
    "identity_user",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=True),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

authorization_codes = sa.Table(
    "identity_authorization_code",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("nonce", sa.Text, nullable=True),
    sa.Column("code_challenge", sa.String(128), nullable=True),
    sa.Column("code_challenge_method", sa.String(16), nullable=True),
    sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    # What the code was exchanged for, revoked should the code be presented again.
    sa.Column("family_id", sa.String(64), nullable=True),
    sa.Column("access_jti", sa.String(255), nullable=True),
    sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
)

refresh_tokens = sa.Table(
    "identity_refresh_token",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("family_id", sa.String(64), nullable=False),
    sa.Column("parent_hash", sa.String(64), nullable=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked", sa.Boolean, nullable=False),
    # The access token issued together with this refresh token, revoked with the family.
    sa.Column("access_jti", sa.String(255), nullable=True),
    sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
)

#: How long used and expired codes are kept, so that a late replay still revokes what the code gave.
CODE_RETENTION = timedelta(hours=1)


def secret_hash(secret: str) -> str:
    """The stored form of a code or refresh token."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    """An issued code (RFC 6749 section 4.1.2), as authlib's grant and OpenID extension read it."""

    code_hash: str
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: datetime
    expires_at: datetime

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return ["pwd"]


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token_hash: str
    family_id: str
    parent_hash: str | None
    client_id: str
    user_id: str
    scope: str
    auth_time: datetime
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked: bool = False
    access_jti: str | None = None
    access_expires_at: datetime | None = None

    def check_client(self, client: Any) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    """An access token issued from a code or a refresh token family, to revoke with it."""

    jti: str
    client_id: str
    expires_at: datetime


class SqlUserStore:
    """:class:`~mims.identity.users.UserStore` on the MIM's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, user: User) -> None:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    users.insert().values(
                        user_id=user.user_id,
                        username=user.username,
                        name=user.name,
                        email=user.email,
                        roles=list(user.roles),
                        password_hash=user.password_hash,
                        created_at=user.created_at,
                    )
                )
        except sa.exc.IntegrityError:
            raise UserExists(user.username) from None

    async def get(self, user_id: str) -> User | None:
        return await self._one(users.c.user_id == user_id)

    async def by_username(self, username: str) -> User | None:
        return await self._one(users.c.username == username)

    async def any(self) -> bool:
        """Whether any user is registered."""
        async with self._engine.connect() as connection:
            return (await connection.execute(sa.select(users.c.user_id).limit(1))).first() is not None

    async def _one(self, condition: sa.ColumnElement[bool]) -> User | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(sa.select(users).where(condition))).first()
        if row is None:
            return None
        values = row._mapping
        return User(
            user_id=values["user_id"],
            username=values["username"],
            name=values["name"],
            email=values["email"],
            roles=tuple(values["roles"]),
            password_hash=values["password_hash"],
            created_at=as_utc(values["created_at"]),
        )


class SqlAuthorizationCodeStore:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._clock = clock

    async def add(self, code: AuthorizationCode) -> None:
        """Store ``code``, forgetting codes that expired :data:`CODE_RETENTION` ago."""
        async with self._engine.begin() as connection:
            await connection.execute(
                authorization_codes.delete().where(authorization_codes.c.expires_at < self._clock() - CODE_RETENTION)
            )
            await connection.execute(
                authorization_codes.insert().values(
                    code_hash=code.code_hash,
                    client_id=code.client_id,
                    user_id=code.user_id,
                    redirect_uri=code.redirect_uri,
                    scope=code.scope,
                    nonce=code.nonce,
                    code_challenge=code.code_challenge,
                    code_challenge_method=code.code_challenge_method,
                    auth_time=code.auth_time,
                    expires_at=code.expires_at,
                )
            )

    async def redeem(self, code_hash: str, client_id: str) -> AuthorizationCode | None:
        """The unexpired, unused code issued to ``client_id``, now marked used; else None."""
        c = authorization_codes.c
        now = self._clock()
        claim = (
            authorization_codes.update()
            .where(c.code_hash == code_hash, c.client_id == client_id, c.used_at.is_(None), c.expires_at > now)
            .values(used_at=now)
        )
        async with begin_write(self._engine) as connection:
            if (await connection.execute(claim)).rowcount != 1:
                return None
            row = (await connection.execute(sa.select(authorization_codes).where(c.code_hash == code_hash))).one()
        values = row._mapping
        return AuthorizationCode(
            **{name: values[name] for name in ("code_hash", "client_id", "user_id", "redirect_uri", "scope", "nonce")},
            code_challenge=values["code_challenge"],
            code_challenge_method=values["code_challenge_method"],
            auth_time=as_utc(values["auth_time"]),
            expires_at=as_utc(values["expires_at"]),
        )

    async def replayed(self, code_hash: str, client_id: str) -> tuple[str | None, IssuedAccessToken | None] | None:
        """For a code of ``client_id`` that was already redeemed: the refresh token family and the
        access token it gave (RFC 6749 section 4.1.2: to revoke them); None otherwise."""
        c = authorization_codes.c
        query = sa.select(c.family_id, c.access_jti, c.access_expires_at).where(
            c.code_hash == code_hash, c.client_id == client_id, c.used_at.is_not(None)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        access = (
            None
            if row.access_jti is None
            else IssuedAccessToken(row.access_jti, client_id, as_utc(row.access_expires_at))
        )
        return row.family_id, access

    async def record_tokens(self, code_hash: str, family_id: str | None, access: IssuedAccessToken) -> None:
        """Remember what ``code_hash`` was exchanged for."""
        async with self._engine.begin() as connection:
            await connection.execute(
                authorization_codes.update()
                .where(authorization_codes.c.code_hash == code_hash)
                .values(family_id=family_id, access_jti=access.jti, access_expires_at=access.expires_at)
            )

    async def nonce_used(self, client_id: str, nonce: str) -> bool:
        """Whether a live code of ``client_id`` already carries ``nonce`` (a replayed request)."""
        c = authorization_codes.c
        query = sa.select(c.code_hash).where(c.client_id == client_id, c.nonce == nonce).limit(1)
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).first() is not None


class SqlRefreshTokenStore:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._clock = clock

    async def add(self, token: RefreshToken) -> None:
        """Store ``token``, forgetting refresh tokens that have expired."""
        async with self._engine.begin() as connection:
            await connection.execute(refresh_tokens.delete().where(refresh_tokens.c.expires_at < self._clock()))
            await connection.execute(
                refresh_tokens.insert().values(
                    token_hash=token.token_hash,
                    family_id=token.family_id,
                    parent_hash=token.parent_hash,
                    client_id=token.client_id,
                    user_id=token.user_id,
                    scope=token.scope,
                    auth_time=token.auth_time,
                    issued_at=token.issued_at,
                    expires_at=token.expires_at,
                    used_at=None,
                    revoked=False,
                    access_jti=token.access_jti,
                    access_expires_at=token.access_expires_at,
                )
            )

    async def get(self, token_hash: str) -> RefreshToken | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash))
            ).first()
        if row is None:
            return None
        values = dict(row._mapping)
        for name in ("auth_time", "issued_at", "expires_at", "used_at", "access_expires_at"):
            values[name] = None if values[name] is None else as_utc(values[name])
        return RefreshToken(**values)

    async def use(self, token_hash: str) -> bool:
        """Mark the token used, if it is still unused, unrevoked and unexpired: True if this call did."""
        c = refresh_tokens.c
        now = self._clock()
        claim = (
            refresh_tokens.update()
            .where(c.token_hash == token_hash, c.used_at.is_(None), c.revoked.is_(False), c.expires_at > now)
            .values(used_at=now)
        )
        async with begin_write(self._engine) as connection:
            return (await connection.execute(claim)).rowcount == 1

    async def revoke_family(self, family_id: str) -> list[IssuedAccessToken]:
        """Revoke every refresh token of the family; the access tokens issued with them."""
        c = refresh_tokens.c
        async with begin_write(self._engine) as connection:
            await connection.execute(refresh_tokens.update().where(c.family_id == family_id).values(revoked=True))
            rows = (
                await connection.execute(
                    sa.select(c.access_jti, c.client_id, c.access_expires_at).where(
                        c.family_id == family_id, c.access_jti.is_not(None)
                    )
                )
            ).all()
        return [IssuedAccessToken(row.access_jti, row.client_id, as_utc(row.access_expires_at)) for row in rows]

