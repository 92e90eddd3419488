"""How a curtailment arms its dead-man revert timer before the setpoint can act, per profile.

A curtailment goes out with a revert timer, so a device returns to normal if
the backend dies. That holds only if the timer is armed before, or together
with, the setpoint, or if an enable gate keeps both from acting until it is
written last. Which of these a profile allows follows from its layout:

- ``ATOMIC``: setpoint and timer sit next to each other, so one FC16 writes both
  (an enable gate, if any, still goes last);
- ``GATED``: they are apart, but an enable gate (``curtail_enable``) exists;
- ``TIMER_FIRST``: they are apart and nothing gates them: the timer is written
  first, the setpoint after it;
- ``UNARMED``: there is no timer; refused unless the profile says
  ``allow_unarmed`` (nothing then reverts the device by itself);
- ``NONE``: no setpoint: the profile is not curtailable.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from .errors import ProfileError
from .point import Point
from .roles import Role
from .sunspec_models import split_ref, to_point

if TYPE_CHECKING:
    from .profile import Profile

SETPOINT, TIMER, ENABLE = Role.CURTAIL_SETPOINT_PCT, Role.REVERT_TIMEOUT_S, Role.CURTAIL_ENABLE


class Arming(enum.StrEnum):
    ATOMIC = "atomic"
    GATED = "gated"
    TIMER_FIRST = "timer_first"
    UNARMED = "unarmed"
    NONE = "none"


def arming_of(profile: Profile) -> Arming:
    """The profile's arming; ``ProfileError`` for a curtailable profile that cannot arm a timer first."""
    arming = _arming(profile)
    if profile.allow_unarmed and arming is not Arming.UNARMED:
        raise ProfileError(f"{profile.source}: allow_unarmed is only for a curtailable profile without "
                           f"{TIMER!r}; this one is {arming}")
    if arming is Arming.UNARMED and not profile.allow_unarmed:
        raise ProfileError(f"{profile.source}: role {SETPOINT!r} has no revert timer ({TIMER!r}), so nothing "
                           "would return the device to normal if the backend died; add one, or declare "
                           "\"allow_unarmed\": true if the device really has none")
    return arming


def _arming(profile: Profile) -> Arming:
    if not profile.has_role(SETPOINT):
        return Arming.NONE
    for role in (SETPOINT, TIMER, ENABLE):
        if profile.has_role(role) and not _located(profile, role)[1].writable:
            raise ProfileError(f"{profile.source}: role {role!r} must be writable to curtail")
    if not profile.has_role(TIMER):
        return Arming.UNARMED
    if _contiguous(profile, SETPOINT, TIMER):
        return Arming.ATOMIC
    return Arming.GATED if profile.has_role(ENABLE) else Arming.TIMER_FIRST


def _contiguous(profile: Profile, first: str, second: str) -> bool:
    """Whether the two roles' registers touch, so that one FC16 writes both."""
    (block_a, a), (block_b, b) = _located(profile, first), _located(profile, second)
    return block_a == block_b and (a.end == b.address or b.end == a.address)


def _located(profile: Profile, role: str) -> tuple[int | None, Point]:
    """The role's point, with addresses relative to its SunSpec model (``model id``), or absolute (None)."""
    if not profile.is_sunspec:
        return None, profile.point(role)
    binding = next(binding for binding in profile.bindings if binding.role == role)
    model_id, name = split_ref(binding.point)
    return model_id, to_point(model_id, name, model_address=0)
