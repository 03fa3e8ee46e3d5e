"""Bearer-token access: the server holds only sha256 digests and compares in constant time.

Every POST route requires a token; read routes require one only with read auth on. With no
tokens file configured, every POST is refused (safe by default).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .problems import Problem
from .settings import TOKENS_FILE_ENV

bearer = HTTPBearer(auto_error=False, description="a token whose sha256 is in the tokens file")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def token_matches(token: str, digests: frozenset[str]) -> bool:
    """True if sha256(``token``) is one of ``digests``; compares against every digest."""
    presented = hashlib.sha256(token.encode("utf-8")).hexdigest()
    found = False
    for digest in digests:
        found |= hmac.compare_digest(presented, digest)
    return found


def _check(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    settings = request.app.state.service.settings
    if not settings.token_digests:
        raise _refused(
            "this server has no API tokens configured; set "
            f"{TOKENS_FILE_ENV} to a file of sha256 token digests to allow this request"
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _refused("this route needs an 'Authorization: Bearer TOKEN' header")
    if not token_matches(credentials.credentials, settings.token_digests):
        raise _refused("the bearer token is not one of this server's tokens")


def _refused(detail: str) -> Problem:
    problem = Problem(401, "unauthorized", "Unauthorized", detail)
    problem.headers = {"WWW-Authenticate": "Bearer"}
    return problem


async def write_access(request: Request, credentials: Credentials) -> None:
    """Dependency of every POST route: a valid bearer token."""
    _check(request, credentials)


async def read_access(request: Request, credentials: Credentials) -> None:
    """Dependency of read routes: a valid token when read auth is on, else nothing."""
    if request.app.state.service.settings.read_auth:
        _check(request, credentials)
