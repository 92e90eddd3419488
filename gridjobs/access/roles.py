"""The roles of IEC 62351-8 that gridjobs knows, and what a principal is."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AccessRole(enum.StrEnum):
    VIEWER = "viewer"        # read operations, outcomes, devices, firmware, metrics in its area
    OPERATOR = "operator"    # + submit and cancel load_shed and der_curtailment
    ENGINEER = "engineer"    # + upload firmware, submit, resume and cancel rollouts
    INSTALLER = "installer"  # + register and change devices
    SECADM = "secadm"        # key rotation, master key, key provisioning, tokens
    SECAUD = "secaud"        # read the audit log, and nothing else


ALL_ROLES = frozenset(AccessRole)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token's name or a JWT's subject, its roles, and its area
    (`feeders`; None means every feeder)."""

    name: str
    via: str                      # "token" | "jwt" | "scrape"
    roles: frozenset[AccessRole]
    feeders: frozenset[str] | None = None

    def covers(self, feeders: frozenset[str] | set[str]) -> bool:
        return self.feeders is None or set(feeders) <= self.feeders

    def outside(self, feeders: frozenset[str] | set[str]) -> list[str]:
        return [] if self.feeders is None else sorted(set(feeders) - self.feeders)
