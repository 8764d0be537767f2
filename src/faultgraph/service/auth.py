"""Bearer tokens, compared in constant time; nothing of a token is ever logged."""

from __future__ import annotations

import hmac

__all__ = ["authorized", "bearer_token"]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``.

    Parameters
    ----------
    header : str or None
        The ``Authorization`` header's value; the scheme is matched case-insensitively and
        surrounding blanks are ignored.

    Returns
    -------
    str or None
        The token; ``None`` when the header is missing, empty, of another scheme or without
        a token.
    """
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authorized(header: str | None, tokens: tuple[str, ...]) -> bool:
    """Whether ``header`` carries one of ``tokens``.

    Every token is compared (with :func:`hmac.compare_digest`), so the time taken says
    nothing of which matched or how much of one did.

    Parameters
    ----------
    header : str or None
        The ``Authorization`` header's value (see :func:`bearer_token`).
    tokens : tuple of str
        The accepted tokens; with none, every header is refused.

    Returns
    -------
    bool
        True when the header's bearer token equals one of ``tokens``.
    """
    given = bearer_token(header)
    if given is None or not tokens:
        return False
    given_bytes = given.encode("utf-8", "surrogateescape")
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given_bytes, token.encode("utf-8", "surrogateescape"))
    return found
