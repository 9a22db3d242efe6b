"""RFC 6749 section 4.1 authorization code grant with RFC 7636 PKCE, on authlib.

A code is single use, lives ``authorization_code_lifetime`` seconds and is bound to the client,
the redirect URI, the scope, the nonce, the PKCE challenge, the user and the moment they
signed in. PKCE is S256 only (``plain`` would send the secret in the front channel); public
clients must use it, confidential clients may, and then it is enforced. A code presented a
second time revokes what it gave (section 4.1.2): its refresh token family and access token.

authlib's grant is synchronous and runs in a worker thread; storage is reached through the loop.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import anyio.from_thread
import orjson
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc.jwk import Key

from mims.identity.clients import AUTH_METHODS, PUBLIC, parse_scopes
from mims.identity.revocations import RevocationStore
from mims.identity.settings import IdentitySettings
from mims.identity.user_storage import (
    AuthorizationCode,
    IssuedAccessToken,
    RefreshToken,
    SqlAuthorizationCodeStore,
    SqlRefreshTokenStore,
    SqlUserStore,
    secret_hash,
)
from mims.identity.users import OIDC_SCOPES, User, scopes_of_roles

#: Client authentication at /token for the grants with a user: public clients send only client_id.
USER_GRANT_AUTH_METHODS = [*AUTH_METHODS, PUBLIC]


@dataclass(frozen=True, slots=True)
class UserFlow:
    """What the grants with a signed-in user need from the running app."""

    settings: IdentitySettings
    users: Callable[[], SqlUserStore]
    codes: Callable[[], SqlAuthorizationCodeStore]
    refresh_tokens: Callable[[], SqlRefreshTokenStore]
    revocations: Callable[[], RevocationStore]
    signing_key: Callable[[], Key]

    def grantable(self, user: User, scopes: Iterable[str]) -> list[str]:
        """``scopes`` narrowed to what the user's roles allow; OpenID Connect scopes always pass."""
        allowed = scopes_of_roles(user.roles, self.settings.role_scopes, self.settings.scopes) | set(OIDC_SCOPES)
        return [scope for scope in scopes if scope in allowed]

    async def revoke(self, family_id: str | None, access: Iterable[IssuedAccessToken] = ()) -> None:
        """Revoke a refresh token family and every access token issued from it (still unexpired)."""
        issued = list(access)
        if family_id is not None:
            issued += await self.refresh_tokens().revoke_family(family_id)
        now = datetime.now(UTC)
        for token in issued:
            if token.expires_at > now:
                await self.revocations().revoke(token.jti, token.client_id, token.expires_at)


def access_token_claims(access_token: str) -> dict[str, Any]:
    """The payload of an access token this server has just signed (no verification needed)."""
    payload = access_token.split(".")[1]
    return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class UserTokenGrant:
    """Token issuance shared by the code and refresh grants: the response carries a new opaque
    refresh token when the client is registered for the refresh_token grant; only its SHA-256
    is stored, in the family of the grant, with the access token issued next to it."""

    flow: ClassVar[UserFlow]

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token = super().generate_token(  # type: ignore[misc]
            user=user, scope=scope, grant_type=grant_type, expires_in=expires_in, include_refresh_token=False
        )
        if include_refresh_token and self.request.client.check_grant_type("refresh_token"):  # type: ignore[attr-defined]
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def store_tokens(
        self, token: dict[str, Any], family_id: str, parent: RefreshToken | None, auth_time: datetime
    ) -> IssuedAccessToken:
        """Keep the refresh token in ``token`` (if any); the access token, for revocation."""
        claims = access_token_claims(token["access_token"])
        client_id = self.request.client.get_client_id()  # type: ignore[attr-defined]
        access = IssuedAccessToken(claims["jti"], client_id, datetime.fromtimestamp(claims["exp"], UTC))
        if "refresh_token" in token:
            now = datetime.now(UTC)
            record = RefreshToken(
                token_hash=secret_hash(token["refresh_token"]),
                family_id=family_id,
                parent_hash=parent.token_hash if parent else None,
                client_id=client_id,
                user_id=self.request.user.user_id,  # type: ignore[attr-defined]
                scope=token.get("scope", ""),
                auth_time=auth_time,
                issued_at=now,
                expires_at=now + timedelta(seconds=self.flow.settings.refresh_token_lifetime),
                access_jti=access.jti,
                access_expires_at=access.expires_at,
            )
            anyio.from_thread.run(self.flow.refresh_tokens().add, record)
        return access


class S256CodeChallenge(CodeChallenge):
    """RFC 7636 with S256 only; a public client must send a challenge with its request."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if grant.request.client.client.public and not data.get("code_challenge"):
            raise InvalidRequestError("a public client must send code_challenge (PKCE, RFC 7636)")
        # RFC 7636 section 4.3: a missing method means "plain", which is not supported.
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(UserTokenGrant, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = USER_GRANT_AUTH_METHODS
    #: When the user signed in, if not just now (a sign-in session): the code's ``auth_time``.
    auth_time: datetime | None = None

    def create_authorization_response(self, redirect_uri: str, grant_user: User | None):
        """The code for ``grant_user``, whose roles narrow the scope the client may have."""
        if grant_user is not None:
            scopes = self.flow.grantable(grant_user, parse_scopes(self.request.scope))
            if not scopes:
                raise InvalidScopeError(
                    "none of the requested scopes may be granted to this user", redirect_uri=redirect_uri
                )
            self.request.scope = " ".join(scopes)
        return super().create_authorization_response(redirect_uri, grant_user)

    def save_authorization_code(self, code: str, request: Any) -> None:
        now = datetime.now(UTC)
        data = request.payload.data
        record = AuthorizationCode(
            code_hash=secret_hash(code),
            client_id=request.client.get_client_id(),
            user_id=request.user.user_id,
            # Empty when the request named none: the token request then need not name one either.
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=self.auth_time or now,
            expires_at=now + timedelta(seconds=self.flow.settings.authorization_code_lifetime),
        )
        anyio.from_thread.run(self.flow.codes().add, record)

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        """The code, now redeemed; a replay of a redeemed code revokes what it was exchanged for."""
        code_hash, client_id = secret_hash(code), client.get_client_id()
        record = anyio.from_thread.run(self.flow.codes().redeem, code_hash, client_id)
        if record is None:
            replayed = anyio.from_thread.run(self.flow.codes().replayed, code_hash, client_id)
            if replayed is not None:
                family_id, access = replayed
                anyio.from_thread.run(self.flow.revoke, family_id, [access] if access else [])
        return record

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Redeeming marked it used; it is kept a while so that a replay is recognised."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return anyio.from_thread.run(self.flow.users().get, authorization_code.user_id)

    def save_token(self, token: dict[str, Any]) -> None:
        code: AuthorizationCode = self.request.authorization_code
        family_id = secrets.token_urlsafe(16)
        access = self.store_tokens(token, family_id, None, code.auth_time)
        anyio.from_thread.run(
            self.flow.codes().record_tokens, code.code_hash, family_id if "refresh_token" in token else None, access
        )
