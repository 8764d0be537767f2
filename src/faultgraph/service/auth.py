"""Bearer tokens, compared in constant time; nothing of a token is ever logged."""

from __future__ import annotations

import hmac

__all__ = ["authorized", "bearer_token"]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authorized(header: str | None, tokens: tuple[str, ...]) -> bool:
    """Whether ``header`` carries one of ``tokens``. Every token is compared (with
    :func:`hmac.compare_digest`), so the time taken says nothing of which matched or how
    much of one did."""
    given = bearer_token(header)
    if given is None or not tokens:
        return False
    given_bytes = given.encode("utf-8", "surrogateescape")
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given_bytes, token.encode("utf-8", "surrogateescape"))
    return found
