"""RFC 6749 section 6 refresh_token grant with rotation and reuse detection (RFC 9700 4.14.2).

Every use returns a new refresh token and marks the presented one used. A refresh token that is
presented after it was used has leaked (either the client or an attacker holds a copy), so the
whole family is revoked: every refresh token descended from the same code, and the access
tokens issued with them. Scope may be narrowed, never widened, and is narrowed further should
the user's roles have lost a scope since.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import anyio.from_thread
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidScopeError, grants

from mims.identity.authorization_code import USER_GRANT_AUTH_METHODS, UserTokenGrant
from mims.identity.clients import parse_scopes
from mims.identity.user_storage import RefreshToken, secret_hash
from mims.identity.users import User


class RefreshTokenGrant(UserTokenGrant, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = USER_GRANT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        """The caller's live, unused refresh token; a used one revokes its family."""
        record = anyio.from_thread.run(self.flow.refresh_tokens().get, secret_hash(refresh_token))
        if record is None or not record.check_client(self.request.client):
            return None
        if record.used_at is not None and not record.revoked:
            anyio.from_thread.run(self.flow.revoke, record.family_id)
            return None
        if record.revoked or record.expires_at <= datetime.now(UTC):
            return None
        return record

    def authenticate_user(self, refresh_token: RefreshToken) -> User:
        user = anyio.from_thread.run(self.flow.users().get, refresh_token.user_id)
        if user is None:
            raise InvalidGrantError("the user of this refresh token no longer exists")
        return user

    def issue_token(self, user: User, refresh_token: RefreshToken) -> dict[str, Any]:
        # The conditional update makes exactly one of two concurrent uses win; the loser is a reuse.
        if not anyio.from_thread.run(self.flow.refresh_tokens().use, refresh_token.token_hash):
            anyio.from_thread.run(self.flow.revoke, refresh_token.family_id)
            raise InvalidGrantError()
        scopes = self.flow.grantable(user, parse_scopes(self.request.payload.scope or refresh_token.scope))
        if not scopes:
            raise InvalidScopeError("none of the requested scopes may be granted to this user any more")
        return self.generate_token(user=user, scope=" ".join(scopes), include_refresh_token=True)

    def save_token(self, token: dict[str, Any]) -> None:
        parent: RefreshToken = self.request.refresh_token
        self.store_tokens(token, parent.family_id, parent, parent.auth_time)

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Already marked used by :meth:`issue_token`, before the new tokens were made."""
