"""Opening a process's access control from its settings."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from gridjobs.access.control import AccessControl
from gridjobs.access.identity import Authenticator
from gridjobs.access.jwt_identity import JwtSettings, JwtVerifier
from gridjobs.access.ratelimit import parse_budgets
from gridjobs.access.roles import AccessRole
from gridjobs.config import Settings
from gridjobs.errors import ConfigError


def open_access(settings: Settings, pool: asyncpg.Pool) -> AccessControl:
    authenticator = Authenticator(pool, jwt=_jwt(settings), scrape_token=_scrape_token(settings),
                                  cache_s=settings.token_cache_s)
    return AccessControl.open(pool, settings.database_url, authenticator, _budgets(settings))


def _jwt(settings: Settings) -> JwtVerifier | None:
    given = [settings.jwt_issuer, settings.jwt_audience, settings.jwt_jwks]
    if not any(given):
        return None
    if not all(given):
        raise ConfigError("JWT bearer tokens need GRIDJOBS_JWT_ISSUER, GRIDJOBS_JWT_AUDIENCE and "
                          "GRIDJOBS_JWT_JWKS together")
    try:
        return JwtVerifier(JwtSettings(settings.jwt_issuer, settings.jwt_audience, settings.jwt_jwks,
                                       settings.jwt_roles_claim, settings.jwt_feeders_claim))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"GRIDJOBS_JWT_JWKS={settings.jwt_jwks}: not a readable JWKS ({exc})") from None


def _scrape_token(settings: Settings) -> str | None:
    path: Path | None = settings.metrics_token_file
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError as exc:
        raise ConfigError(f"GRIDJOBS_METRICS_TOKEN_FILE={path}: {exc.strerror}") from None


def _budgets(settings: Settings) -> dict[AccessRole, object]:
    try:
        parsed = parse_budgets(settings.rate_limits)
    except ValueError as exc:
        raise ConfigError(f"GRIDJOBS_RATE_LIMITS: {exc}") from None
    unknown = sorted(set(parsed) - set(AccessRole))
    if unknown:
        raise ConfigError(f"GRIDJOBS_RATE_LIMITS names unknown roles {unknown}; roles are "
                          f"{', '.join(AccessRole)}")
    return {AccessRole(name): budget for name, budget in parsed.items()}
