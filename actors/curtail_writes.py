"""The writes that arm and clear a curtailment, in the order that keeps a device safe.

Arming: the revert timer goes out before the setpoint, or in the same FC16 when
the profile puts the two side by side (``Arming.ATOMIC``); an enable gate opens
last. Clearing runs the other way round for safety, not in mirror order: the
gate closes first, then the setpoint returns to normal, and only then is the
timer disarmed, so at no moment is the device curtailed without its timer.
Each group is one ``DeviceClient.write_sequence`` step.
"""

from __future__ import annotations

from adapters import Arming, Profile, Role, Value

SETPOINT = Role.CURTAIL_SETPOINT_PCT
TIMER = Role.REVERT_TIMEOUT_S
ENABLE = Role.CURTAIL_ENABLE  # optional: SunSpec's WMaxLim_Ena
NORMAL_PCT = 100

Groups = list[dict[str, Value]]


def arm_sequence(profile: Profile, *, setpoint: int, timer: int) -> Groups:
    """Timer (with the setpoint if contiguous), setpoint, then the gate."""
    if profile.arming is Arming.ATOMIC:
        groups: Groups = [{TIMER: timer, SETPOINT: setpoint}]
    elif profile.arming is Arming.UNARMED:
        groups = [{SETPOINT: setpoint}]
    else:
        groups = [{TIMER: timer}, {SETPOINT: setpoint}]
    if profile.has_role(ENABLE):
        groups.append({ENABLE: 0 if setpoint >= NORMAL_PCT and timer == 0 else 1})
    return groups


def clear_sequence(profile: Profile) -> Groups:
    """Gate closed, setpoint back to normal, then the timer disarmed (with the setpoint if contiguous)."""
    groups: Groups = [{ENABLE: 0}] if profile.has_role(ENABLE) else []
    if profile.arming is Arming.ATOMIC:
        groups.append({SETPOINT: NORMAL_PCT, TIMER: 0})
    elif profile.arming is Arming.UNARMED:
        groups.append({SETPOINT: NORMAL_PCT})
    else:
        groups += [{SETPOINT: NORMAL_PCT}, {TIMER: 0}]
    return groups
