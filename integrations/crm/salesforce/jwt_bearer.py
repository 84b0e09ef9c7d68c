"""The OAuth 2.0 JWT bearer assertion Salesforce accepts for server-to-server
tokens (RFC 7523; help.salesforce.com "OAuth 2.0 JWT Bearer Flow").

RS256, signed with the private key whose certificate is uploaded to the
connected app. Claims: iss = consumer key, sub = the Salesforce username,
aud = the login host (https://login.salesforce.com, https://test.salesforce.com
or an Experience Cloud site URL), exp = a few minutes ahead
(facts.JWT_LIFETIME_SECONDS, 3 min, UNCONFIRMED).
"""
from __future__ import annotations

import time

import jwt

from . import facts


def build_assertion(*, consumer_key: str, username: str, audience: str, private_key_pem: bytes | str,
                    lifetime: int = facts.JWT_LIFETIME_SECONDS, now: float | None = None) -> str:
    """The signed assertion to POST as `assertion` with the jwt-bearer grant."""
    issued = int(time.time() if now is None else now)
    claims = {"iss": consumer_key, "sub": username, "aud": audience.rstrip("/"), "exp": issued + lifetime}
    key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    return jwt.encode(claims, key, algorithm="RS256")
